-- Custom migration (drizzle-kit generate --custom): full-text search over session metadata.
-- External-content FTS5 over `sessions`, kept in sync by triggers; bm25 ranks, snippet() highlights.
CREATE VIRTUAL TABLE `sessions_fts` USING fts5(`title`, `tags`, `notes`, `owner_id`, `node_id`, `state`, content='sessions', content_rowid='rowid', tokenize='porter unicode61');
--> statement-breakpoint
CREATE TRIGGER `sessions_fts_insert` AFTER INSERT ON `sessions` BEGIN
  INSERT INTO `sessions_fts`(rowid, `title`, `tags`, `notes`, `owner_id`, `node_id`, `state`)
  VALUES (new.rowid, new.`title`, new.`tags`, new.`notes`, new.`owner_id`, new.`node_id`, new.`state`);
END;
--> statement-breakpoint
CREATE TRIGGER `sessions_fts_delete` AFTER DELETE ON `sessions` BEGIN
  INSERT INTO `sessions_fts`(`sessions_fts`, rowid, `title`, `tags`, `notes`, `owner_id`, `node_id`, `state`)
  VALUES ('delete', old.rowid, old.`title`, old.`tags`, old.`notes`, old.`owner_id`, old.`node_id`, old.`state`);
END;
--> statement-breakpoint
CREATE TRIGGER `sessions_fts_update` AFTER UPDATE ON `sessions` BEGIN
  INSERT INTO `sessions_fts`(`sessions_fts`, rowid, `title`, `tags`, `notes`, `owner_id`, `node_id`, `state`)
  VALUES ('delete', old.rowid, old.`title`, old.`tags`, old.`notes`, old.`owner_id`, old.`node_id`, old.`state`);
  INSERT INTO `sessions_fts`(rowid, `title`, `tags`, `notes`, `owner_id`, `node_id`, `state`)
  VALUES (new.rowid, new.`title`, new.`tags`, new.`notes`, new.`owner_id`, new.`node_id`, new.`state`);
END;
