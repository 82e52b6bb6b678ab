ALTER TABLE `blocks` ADD `cumulative_txs` integer;--> statement-breakpoint
ALTER TABLE `blocks` ADD `cumulative_anchors` integer;