CREATE UNIQUE INDEX `challenges_nonce` ON `challenges` (`nonce`);--> statement-breakpoint
CREATE INDEX `challenges_expires_at` ON `challenges` (`expires_at`);