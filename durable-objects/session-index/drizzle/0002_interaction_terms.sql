CREATE TABLE `session_terms` (
	`token` text NOT NULL,
	`session_id` text NOT NULL,
	`chunk_index` integer NOT NULL,
	PRIMARY KEY(`token`, `session_id`, `chunk_index`)
);
--> statement-breakpoint
CREATE INDEX `session_terms_session` ON `session_terms` (`session_id`,`chunk_index`);--> statement-breakpoint
ALTER TABLE `sessions` ADD `interaction` text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `shredded` integer DEFAULT false NOT NULL;