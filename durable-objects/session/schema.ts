import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { INTERACTION_POLICIES } from "../../shared/recording/events.ts";
import { SESSION_STATES, type Anchor } from "../../shared/session.ts";
import { taskTable } from "../scheduler.ts";
import type { KeyShare } from "../../shared/recording/key-share.ts";
import type { IntegrityResult } from "./integrity.ts";

/** The session itself: one row, written only by its SessionDO. */
export const session = sqliteTable("session", {
  id: text("id").primaryKey(),
  ownerId: text("owner_id").notNull(),
  nodeId: text("node_id").notNull(),
  title: text("title").notNull(),
  tags: text("tags", { mode: "json" }).$type<string[]>().notNull(),
  notes: text("notes").notNull(),
  /** The RDP parameters the session was created with. */
  rdp: text("rdp", { mode: "json" }).$type<Record<string, number | boolean>>().notNull(),
  /**
   * What the recorder records of input beside the pixels (shared/recording/events.ts), fixed at
   * creation. Sessions created before the policy existed recorded none.
   */
  interaction: text("interaction", { enum: INTERACTION_POLICIES }).notNull().default("none"),
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
  /** Where the final root is anchored, once it is. */
  anchor: text("anchor", { mode: "json" }).$type<Anchor>(),
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
  /** JSON, or null: free-form, so kept as text (an `unknown` column would not cross RPC typed). */
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

/** Alarm-driven work (durable-objects/scheduler.ts): each task runs when due and backs off after a failure. */
export const tasks = taskTable();

/**
 * Hand-overs of the session to another node (an RDP desktop migrated): the chunk indices below
 * `boundary` belong to `fromNode`, those from it on to `toNode`. `boundary` is null until the old
 * node declares how many chunks it recorded (or its grace ends); see handover.ts.
 */
export const handovers = sqliteTable("handovers", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  fromNode: text("from_node").notNull(),
  toNode: text("to_node").notNull(),
  at: integer("at").notNull(),
  /** After this the old node may upload nothing more. */
  graceUntil: integer("grace_until").notNull(),
  /** Highest index the old node may claim before it declares its count (stored/reserved at the hand-over + a window). */
  limit: integer("index_limit").notNull(),
  boundary: integer("boundary"),
  /** "node" (the old node declared it) or "grace" (its grace ended first). */
  settledBy: text("settled_by", { enum: ["node", "grace"] }),
  settledAt: integer("settled_at"),
});

/** The data key wrapped for a named recipient (./shares.ts, shared/recording/key-share.ts); never the key itself. */
export const shares = sqliteTable("shares", {
  id: text("id").primaryKey(),
  label: text("label").notNull(),
  /** "x25519" or "passphrase". */
  recipient: text("recipient").notNull(),
  /** The versioned envelope of shared/recording/key-share.ts. */
  envelope: text("envelope", { mode: "json" }).$type<KeyShare>().notNull(),
  createdAt: integer("created_at").notNull(),
  createdBy: text("created_by").notNull(),
});
