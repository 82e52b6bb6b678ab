CREATE TABLE `chain_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `credentials` (
	`jti` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_by` text
);
--> statement-breakpoint
CREATE INDEX `credentials_node` ON `credentials` (`node_id`);--> statement-breakpoint
CREATE TABLE `heartbeats` (
	`node_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`sent_at` integer NOT NULL,
	`cpu_percent` integer NOT NULL,
	`memory_percent` integer NOT NULL,
	`disk_percent` integer NOT NULL,
	`network_mbps` integer NOT NULL,
	`sessions_hosted` integer NOT NULL,
	`bytes_recorded` integer NOT NULL,
	PRIMARY KEY(`node_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `heartbeats_at` ON `heartbeats` (`at`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `node_epochs` (
	`node_id` text NOT NULL,
	`epoch` integer NOT NULL,
	`operational_seconds` integer NOT NULL,
	`session_seconds` integer NOT NULL,
	`bytes_recorded` integer NOT NULL,
	`credits` integer NOT NULL,
	`weight` integer NOT NULL,
	`units` integer NOT NULL,
	PRIMARY KEY(`node_id`, `epoch`)
);
--> statement-breakpoint
CREATE TABLE `node_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`node_id` text NOT NULL,
	`from_state` text,
	`to_state` text NOT NULL,
	`reason` text NOT NULL,
	`actor` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `node_events_node` ON `node_events` (`node_id`,`id`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`pool` text NOT NULL,
	`operator_id` text NOT NULL,
	`public_key` text NOT NULL,
	`payout_address` text NOT NULL,
	`cpu_cores` integer NOT NULL,
	`memory_mb` integer NOT NULL,
	`disk_gb` integer NOT NULL,
	`bandwidth_mbps` integer NOT NULL,
	`state` text NOT NULL,
	`state_changed_at` integer NOT NULL,
	`registered_at` integer NOT NULL,
	`last_heartbeat_at` integer,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`last_sent_at` integer,
	`last_report` text,
	`operational_seconds_total` integer DEFAULT 0 NOT NULL,
	`credits_total` integer DEFAULT 0 NOT NULL,
	`accrued_units` integer DEFAULT 0 NOT NULL,
	`accrued_credits` integer DEFAULT 0 NOT NULL,
	`requested_units` integer DEFAULT 0 NOT NULL,
	`payout_sequence` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `nodes_public_key_unique` ON `nodes` (`public_key`);--> statement-breakpoint
CREATE TABLE `payout_outbox` (
	`idempotency_key` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`amount_units` integer NOT NULL,
	`credits` integer NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`payout_id` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `payout_outbox_node` ON `payout_outbox` (`node_id`);--> statement-breakpoint
CREATE INDEX `payout_outbox_due` ON `payout_outbox` (`status`,`next_attempt_at`);