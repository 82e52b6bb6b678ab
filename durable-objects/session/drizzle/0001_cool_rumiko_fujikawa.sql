CREATE TABLE `handovers` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`from_node` text NOT NULL,
	`to_node` text NOT NULL,
	`at` integer NOT NULL,
	`grace_until` integer NOT NULL,
	`index_limit` integer NOT NULL,
	`boundary` integer,
	`settled_by` text,
	`settled_at` integer
);
