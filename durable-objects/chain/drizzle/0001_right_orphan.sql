CREATE TABLE `anchor_notices` (
	`tx_id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`notice` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text
);
