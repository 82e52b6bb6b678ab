CREATE TABLE `chunks` (
	`idx` integer PRIMARY KEY NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`nonce` text NOT NULL,
	`plain_size` integer NOT NULL,
	`compressed_size` integer NOT NULL,
	`capture_start` integer NOT NULL,
	`capture_end` integer NOT NULL,
	`store_key` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `discards` (
	`store_key` text PRIMARY KEY NOT NULL,
	`added_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`from_state` text,
	`to_state` text,
	`actor` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE TABLE `session` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`node_id` text NOT NULL,
	`title` text NOT NULL,
	`tags` text NOT NULL,
	`notes` text NOT NULL,
	`rdp` text NOT NULL,
	`state` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`stopped_at` integer,
	`completed_at` integer,
	`expires_at` integer NOT NULL,
	`wrapped_key` text,
	`shredded_at` integer,
	`deleted_at` integer,
	`tree_size` integer,
	`merkle_root` text,
	`anchor` text,
	`failure` text
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`name` text PRIMARY KEY NOT NULL,
	`due_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`idx` integer NOT NULL,
	`sha256` text NOT NULL,
	`store_key` text NOT NULL,
	`started_at` integer NOT NULL
);
