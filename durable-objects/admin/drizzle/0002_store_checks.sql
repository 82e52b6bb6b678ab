CREATE TABLE `store_checks` (
	`target` text PRIMARY KEY NOT NULL,
	`at` integer,
	`source` text,
	`ok` integer,
	`checked` integer,
	`first_bad` integer,
	`fault` text,
	`message` text,
	`due_at` integer NOT NULL
);
