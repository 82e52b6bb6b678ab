CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`node_id` text NOT NULL,
	`title` text NOT NULL,
	`tags` text NOT NULL,
	`notes` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sessions_created` ON `sessions` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `sessions_owner_created` ON `sessions` (`owner_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `sessions_node_created` ON `sessions` (`node_id`,`created_at`,`id`);