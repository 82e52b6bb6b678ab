CREATE TABLE `resource_reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text NOT NULL,
	`at` integer NOT NULL,
	`cpu_percent` real NOT NULL,
	`memory_mb` real NOT NULL,
	`disk_mb` real NOT NULL,
	`rx_kbps` real NOT NULL,
	`tx_kbps` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `resource_reports_server_at` ON `resource_reports` (`server_id`,`at`);--> statement-breakpoint
CREATE INDEX `resource_reports_at` ON `resource_reports` (`at`);