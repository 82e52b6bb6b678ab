CREATE TABLE `tron_anchors` (
	`key` text PRIMARY KEY NOT NULL,
	`memo` text NOT NULL,
	`wallet_id` text NOT NULL,
	`txid` text NOT NULL,
	`tx_json` text NOT NULL,
	`expiration` integer NOT NULL,
	`state` text NOT NULL,
	`block_number` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
