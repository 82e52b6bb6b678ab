CREATE TABLE `node_sessions` (
	`session_id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`assigned_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `node_sessions_node` ON `node_sessions` (`node_id`,`finished_at`);--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `status` text DEFAULT 'accrued' NOT NULL;--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `reported_session_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `reported_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `alerted_at` integer;--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `reviewed_by` text;--> statement-breakpoint
ALTER TABLE `node_epochs` ADD `reviewed_at` integer;--> statement-breakpoint
CREATE INDEX `node_epochs_status` ON `node_epochs` (`status`);--> statement-breakpoint
ALTER TABLE `nodes` ADD `heartbeat_challenge` text;