CREATE TABLE `blocks` (
	`height` integer PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`header` text NOT NULL,
	`signature` text NOT NULL,
	`timestamp` integer NOT NULL,
	`slot` integer NOT NULL,
	`epoch` integer NOT NULL,
	`producer` text NOT NULL,
	`tx_count` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `blocks_hash_unique` ON `blocks` (`hash`);--> statement-breakpoint
CREATE TABLE `chain_txs` (
	`id` text PRIMARY KEY NOT NULL,
	`height` integer NOT NULL,
	`tx_index` integer NOT NULL,
	`type` text NOT NULL,
	`session_id` text,
	`node_id` text,
	`final_anchor` integer DEFAULT false NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `chain_txs_block` ON `chain_txs` (`height`,`tx_index`);--> statement-breakpoint
CREATE INDEX `chain_txs_session` ON `chain_txs` (`session_id`);--> statement-breakpoint
CREATE INDEX `chain_txs_node` ON `chain_txs` (`node_id`);--> statement-breakpoint
CREATE TABLE `epoch_weights` (
	`epoch` integer NOT NULL,
	`producer` text NOT NULL,
	`weight` integer NOT NULL,
	PRIMARY KEY(`epoch`, `producer`)
);
--> statement-breakpoint
CREATE TABLE `mempool` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`session_id` text,
	`final_anchor` integer DEFAULT false NOT NULL,
	`body` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mempool_id_unique` ON `mempool` (`id`);--> statement-breakpoint
CREATE INDEX `mempool_session` ON `mempool` (`session_id`);