CREATE TABLE `tron_anchors` (
	`epoch` integer PRIMARY KEY NOT NULL,
	`height` integer NOT NULL,
	`hash` text NOT NULL,
	`state` text NOT NULL,
	`txid` text,
	`raw_data_hex` text,
	`block_number` integer,
	`confirmations` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`updated_at` integer NOT NULL
);
