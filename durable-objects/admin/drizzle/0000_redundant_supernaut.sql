CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`severity` text NOT NULL,
	`source` text NOT NULL,
	`title` text NOT NULL,
	`detail` text,
	`state` text NOT NULL,
	`count` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`acknowledged_by` text,
	`acknowledged_at` integer,
	`resolved_by` text,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `alerts_key_state` ON `alerts` (`key`,`state`);--> statement-breakpoint
CREATE INDEX `alerts_last` ON `alerts` (`last_at`);--> statement-breakpoint
CREATE TABLE `config_versions` (
	`version` integer PRIMARY KEY NOT NULL,
	`config` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`reason` text NOT NULL,
	`rollback_of` integer
);
--> statement-breakpoint
CREATE TABLE `emergency_controls` (
	`control` text PRIMARY KEY NOT NULL,
	`active` integer NOT NULL,
	`reason` text,
	`changed_by` text,
	`changed_at` integer
);
--> statement-breakpoint
CREATE TABLE `health_streaks` (
	`name` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`audience` text NOT NULL,
	`severity` text NOT NULL,
	`title` text NOT NULL,
	`body` text NOT NULL,
	`sent_by` text NOT NULL,
	`retracted_at` integer,
	`retracted_by` text
);
