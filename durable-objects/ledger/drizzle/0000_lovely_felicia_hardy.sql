CREATE TABLE `audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`subject` text NOT NULL,
	`detail` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `balance_cache` (
	`address` text PRIMARY KEY NOT NULL,
	`trx` integer NOT NULL,
	`usdt` integer NOT NULL,
	`fetched_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `idempotency` (
	`key` text PRIMARY KEY NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer,
	`body` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `kyc` (
	`address` text PRIMARY KEY NOT NULL,
	`verified` integer NOT NULL,
	`set_by` text NOT NULL,
	`set_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `payout_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payout_id` text NOT NULL,
	`from_state` text,
	`to_state` text NOT NULL,
	`at` integer NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE TABLE `payouts` (
	`id` text PRIMARY KEY NOT NULL,
	`idempotency_key` text NOT NULL,
	`recipient` text NOT NULL,
	`amount` integer NOT NULL,
	`fee` integer NOT NULL,
	`net` integer NOT NULL,
	`source` text NOT NULL,
	`requested_by` text NOT NULL,
	`state` text NOT NULL,
	`approved_by` text,
	`wallet_id` text,
	`batch_id` text,
	`tx_json` text,
	`txid` text,
	`expiration` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`first_signed_at` integer,
	`block_number` integer,
	`failure_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_idempotency_key_unique` ON `payouts` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `payouts_state` ON `payouts` (`state`);--> statement-breakpoint
CREATE INDEX `payouts_recipient` ON `payouts` (`recipient`);--> statement-breakpoint
CREATE INDEX `payouts_wallet` ON `payouts` (`wallet_id`);--> statement-breakpoint
CREATE TABLE `stakes` (
	`id` text PRIMARY KEY NOT NULL,
	`idempotency_key` text NOT NULL,
	`wallet_id` text NOT NULL,
	`amount` integer NOT NULL,
	`resource` text NOT NULL,
	`state` text NOT NULL,
	`reward_rate_ppm` integer NOT NULL,
	`tx_json` text,
	`txid` text,
	`expiration` integer,
	`frozen_at` integer,
	`unfreeze_after` integer,
	`withdrawable_at` integer,
	`failure_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `stakes_idempotency_key_unique` ON `stakes` (`idempotency_key`);--> statement-breakpoint
CREATE TABLE `wallets` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`label` text NOT NULL,
	`address` text NOT NULL,
	`encrypted_key` text,
	`owners` text,
	`threshold` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer
);
