CREATE TABLE `metric_series` (
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`name`, `labels`)
);
--> statement-breakpoint
CREATE TABLE `service_checks` (
	`name` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`latency_ms` real NOT NULL,
	`detail` text,
	`checked_at` integer NOT NULL,
	`last_up_at` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL
);
