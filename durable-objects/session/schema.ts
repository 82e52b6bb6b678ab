import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { SESSION_STATES } from "../../shared/session.ts";
import type { IntegrityResult } from "./integrity.ts";

/** The session itself: one row, written only by its SessionDO. */
export const session = sqliteTable("session", {
  id: text("id").primaryKey(),
  ownerId: text("owner_id").notNull(),
  nodeId: text("node_id").notNull(),
  title: text("title").notNull(),
  /** JSON array of strings. */
  tags: text("tags").notNull(),
  notes: text("notes").notNull(),
  /** JSON object: the RDP parameters the session was created with. */
  rdp: text("rdp").notNull(),
  state: text("state", { enum: SESSION_STATES }).notNull(),
  /** Increases on every change, so the index can ignore stale updates. */
  version: integer("version").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  startedAt: integer("started_at"),
  stoppedAt: integer("stopped_at"),
  completedAt: integer("completed_at"),
  /** When retention deletes the chunks and destroys the key. */
  expiresAt: integer("expires_at").notNull(),
  /** base64(iv ‖ AES-256-GCM(KEK, data key)); null once shredded. */
  wrappedKey: text("wrapped_key"),
  shreddedAt: integer("shredded_at"),
  deletedAt: integer("deleted_at"),
  /** Final tree size and root, set when the manifest is written. */
  treeSize: integer("tree_size"),
  merkleRoot: text("merkle_root"),
  /** JSON Anchor once the root is anchored. */
  anchor: text("anchor"),
  failure: text("failure"),
  /** The last integrity result (a scrub, an on-demand check or a failed read); see ./integrity.ts. */
  lastIntegrity: text("last_integrity", { mode: "json" }).$type<IntegrityResult>(),
  /** Legal hold (./hold.ts): while set, retention skips the session and crypto-shredding is refused. */
  holdReason: text("hold_reason"),
  holdBy: text("hold_by"),
  holdAt: integer("hold_at"),
});

/** Every transition and notable event, in order. */
export const events = sqliteTable("events", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  kind: text("kind").notNull(),
  fromState: text("from_state"),
  toState: text("to_state"),
  actor: text("actor").notNull(),
  /** JSON, or null. */
  detail: text("detail"),
});

/** Stored chunks (committed uploads), one per index. */
export const chunks = sqliteTable("chunks", {
  index: integer("idx").primaryKey(),
  sha256: text("sha256").notNull(),
  size: integer("size").notNull(),
  nonce: text("nonce").notNull(),
  plainSize: integer("plain_size").notNull(),
  compressedSize: integer("compressed_size").notNull(),
  captureStart: integer("capture_start").notNull(),
  captureEnd: integer("capture_end").notNull(),
  storeKey: text("store_key").notNull(),
  receivedAt: integer("received_at").notNull(),
  /** Set when a read or a scrub found the stored bytes differ from `sha256`; such a chunk is never served. */
  damagedAt: integer("damaged_at"),
});

/** Uploads in flight: each writes its own blob, so a crashed or losing upload can be cleaned up. */
export const uploads = sqliteTable("uploads", {
  id: text("id").primaryKey(),
  index: integer("idx").notNull(),
  sha256: text("sha256").notNull(),
  storeKey: text("store_key").notNull(),
  startedAt: integer("started_at").notNull(),
});

/** Blobs to delete from the chunk store (retried by the alarm until the store confirms). */
export const discards = sqliteTable("discards", {
  storeKey: text("store_key").primaryKey(),
  addedAt: integer("added_at").notNull(),
});

/** Alarm-driven work: each task runs when due and backs off after a failure. */
export const tasks = sqliteTable("tasks", {
  name: text("name").primaryKey(),
  dueAt: integer("due_at").notNull(),
  attempts: integer("attempts").notNull().default(0),
  lastError: text("last_error"),
});

/** The data key wrapped for a named recipient (./shares.ts, shared/recording/key-share.ts); never the key itself. */
export const shares = sqliteTable("shares", {
  id: text("id").primaryKey(),
  label: text("label").notNull(),
  /** "x25519" or "passphrase". */
  recipient: text("recipient").notNull(),
  /** The versioned envelope of shared/recording/key-share.ts (JSON). */
  envelope: text("envelope").notNull(),
  createdAt: integer("created_at").notNull(),
  createdBy: text("created_by").notNull(),
});
