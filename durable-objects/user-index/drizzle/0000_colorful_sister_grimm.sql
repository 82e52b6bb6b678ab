CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`tron_address` text,
	`email` text,
	`display_name` text,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_tron_address_unique` ON `users` (`tron_address`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
CREATE INDEX `users_role` ON `users` (`role`);