CREATE TABLE `reconciliations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`wallet_id` text NOT NULL,
	`transfers` integer NOT NULL,
	`payouts` integer NOT NULL,
	`differences` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `payouts` ADD `node_id` text;--> statement-breakpoint
ALTER TABLE `payouts` ADD `held_reason` text;--> statement-breakpoint
CREATE INDEX `payouts_node` ON `payouts` (`node_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_txid` ON `payouts` (`txid`);