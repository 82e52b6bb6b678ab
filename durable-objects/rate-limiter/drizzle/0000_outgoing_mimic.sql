CREATE TABLE `rate_windows` (
	`key` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`window_ms` integer NOT NULL,
	`used` integer NOT NULL
);
