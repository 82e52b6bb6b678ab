CREATE TABLE `placements` (
	`node_id` text PRIMARY KEY NOT NULL,
	`pool` text NOT NULL,
	`operator_id` text NOT NULL,
	`public_key` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `placements_public_key_unique` ON `placements` (`public_key`);--> statement-breakpoint
CREATE INDEX `placements_operator` ON `placements` (`operator_id`);--> statement-breakpoint
CREATE TABLE `pools` (
	`name` text PRIMARY KEY NOT NULL,
	`number` integer NOT NULL,
	`node_count` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pools_number_unique` ON `pools` (`number`);