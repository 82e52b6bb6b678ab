CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text NOT NULL,
	`level` text NOT NULL,
	`metric` text NOT NULL,
	`value` integer NOT NULL,
	`limit_value` integer NOT NULL,
	`message` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alerts_at` ON `alerts` (`at`);--> statement-breakpoint
CREATE TABLE `commands` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`server_id` text NOT NULL,
	`kind` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`issued_at` integer NOT NULL,
	`next_attempt_at` integer,
	`acked_at` integer,
	`error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `commands_id` ON `commands` (`id`);--> statement-breakpoint
CREATE INDEX `commands_status` ON `commands` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `host` (
	`id` text PRIMARY KEY NOT NULL,
	`address` text,
	`agent_version` text,
	`connected_at` integer,
	`last_seen_at` integer
);
--> statement-breakpoint
CREATE TABLE `servers` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`owner_id` text NOT NULL,
	`port` integer,
	`state` text NOT NULL,
	`connection` text,
	`config` text NOT NULL,
	`limits` text NOT NULL,
	`created_at` integer NOT NULL,
	`state_changed_at` integer NOT NULL,
	`lease_expires_at` integer,
	`started_at` integer,
	`expires_at` integer,
	`idle_since` integer,
	`strikes` integer DEFAULT 0 NOT NULL,
	`last_report` text,
	`last_report_at` integer,
	`end_reason` text,
	`migrated_to` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `servers_port` ON `servers` (`port`);--> statement-breakpoint
CREATE INDEX `servers_state` ON `servers` (`state`);--> statement-breakpoint
CREATE INDEX `servers_session` ON `servers` (`session_id`);