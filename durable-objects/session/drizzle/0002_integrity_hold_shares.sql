CREATE TABLE `shares` (
	`id` text PRIMARY KEY NOT NULL,
	`label` text NOT NULL,
	`recipient` text NOT NULL,
	`envelope` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `chunks` ADD `damaged_at` integer;--> statement-breakpoint
ALTER TABLE `session` ADD `last_integrity` text;--> statement-breakpoint
ALTER TABLE `session` ADD `hold_reason` text;--> statement-breakpoint
ALTER TABLE `session` ADD `hold_by` text;--> statement-breakpoint
ALTER TABLE `session` ADD `hold_at` integer;