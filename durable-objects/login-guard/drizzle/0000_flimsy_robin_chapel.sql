CREATE TABLE `challenges` (
	`id` integer PRIMARY KEY NOT NULL,
	`nonce` text NOT NULL,
	`message` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `failures` (
	`id` integer PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`last_failure_at` integer NOT NULL,
	`locked_until` integer NOT NULL
);
