CREATE TABLE `audit_anchors` (
	`event_id` integer PRIMARY KEY NOT NULL,
	`head` text NOT NULL,
	`tx_id` text NOT NULL,
	`submitted_at` integer NOT NULL,
	`block_height` integer,
	`block_hash` text,
	`anchored_at` integer
);
--> statement-breakpoint
ALTER TABLE `audit_events` ADD `before` text;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `after` text;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `prev_hash` text;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `hash` text;--> statement-breakpoint
CREATE INDEX `audit_target` ON `audit_events` (`target_id`);--> statement-breakpoint
CREATE INDEX `audit_request` ON `audit_events` (`request_id`);