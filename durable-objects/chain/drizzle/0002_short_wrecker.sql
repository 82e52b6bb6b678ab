ALTER TABLE `blocks` ADD `weight` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `blocks` ADD `cumulative_weight` integer DEFAULT 0 NOT NULL;