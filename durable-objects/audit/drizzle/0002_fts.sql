-- Custom migration (drizzle-kit generate --custom): full-text search over the audit log.
-- External-content FTS5 over `audit_events`; the log is append-only, but update/delete triggers
-- keep the index honest even if a row is changed behind the object's back (verify names it).
CREATE VIRTUAL TABLE `audit_fts` USING fts5(`action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after`, content='audit_events', content_rowid='id', tokenize='porter unicode61');
--> statement-breakpoint
INSERT INTO `audit_fts`(`audit_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `audit_fts_insert` AFTER INSERT ON `audit_events` BEGIN
  INSERT INTO `audit_fts`(rowid, `action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after`)
  VALUES (new.id, new.`action`, new.`actor_id`, new.`target_id`, new.`request_id`, new.`details`, new.`before`, new.`after`);
END;
--> statement-breakpoint
CREATE TRIGGER `audit_fts_delete` AFTER DELETE ON `audit_events` BEGIN
  INSERT INTO `audit_fts`(`audit_fts`, rowid, `action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after`)
  VALUES ('delete', old.id, old.`action`, old.`actor_id`, old.`target_id`, old.`request_id`, old.`details`, old.`before`, old.`after`);
END;
--> statement-breakpoint
CREATE TRIGGER `audit_fts_update` AFTER UPDATE OF `action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after` ON `audit_events` BEGIN
  INSERT INTO `audit_fts`(`audit_fts`, rowid, `action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after`)
  VALUES ('delete', old.id, old.`action`, old.`actor_id`, old.`target_id`, old.`request_id`, old.`details`, old.`before`, old.`after`);
  INSERT INTO `audit_fts`(rowid, `action`, `actor_id`, `target_id`, `request_id`, `details`, `before`, `after`)
  VALUES (new.id, new.`action`, new.`actor_id`, new.`target_id`, new.`request_id`, new.`details`, new.`before`, new.`after`);
END;
