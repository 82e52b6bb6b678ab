/**
 * The node's identity on disk: one JSON file, mode 0600, in the agent's state directory
 * (default /var/lib/lucid-agent). It holds the Ed25519 secret key, the node id and pool the
 * node API assigned, and the node credential; the heartbeat sequence lives beside it so a
 * restarted agent never repeats a number the pool already accepted.
 *
 *   STATE/node.json        NodeState (0600: it carries the secret key and the credential)
 *   STATE/heartbeat.json   { seq } of the last beat sent
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

export const nodeStateSchema = z
  .object({
    version: z.literal(1),
    server: z.string().url(),
    nodeId: z.string().min(1).max(64),
    pool: z.string().regex(/^pool-[0-9]{1,6}$/),
    publicKey: hex(32),
    secretKey: hex(32),
    payoutAddress: z.string().min(1),
    credential: z.object({ token: z.string().min(1), jti: z.string().min(1), expiresAt: z.string(), header: z.string().min(1) }).strict(),
    enrolledAt: z.string(),
  })
  .strict();
export type NodeState = z.infer<typeof nodeStateSchema>;

export const DEFAULT_STATE_DIR = "/var/lib/lucid-agent";
export const nodeFile = (dir: string) => join(dir, "node.json");
const seqFile = (dir: string) => join(dir, "heartbeat.json");

export class NotEnrolledError extends Error {
  constructor(dir: string) {
    super(`${dir} holds no enrolled node (no node.json); run \`lucid-agent enroll\` first`);
    this.name = "NotEnrolledError";
  }
}

/** Writes `text` to `path` atomically and durably (temp file, fsync, rename), readable by the owner only. */
export function writeSecretFile(path: string, text: string): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function saveNodeState(dir: string, state: NodeState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeSecretFile(nodeFile(dir), JSON.stringify(nodeStateSchema.parse(state), null, 2) + "\n");
}

export function loadNodeState(dir: string): NodeState {
  if (!existsSync(nodeFile(dir))) throw new NotEnrolledError(dir);
  const parsed = nodeStateSchema.safeParse(JSON.parse(readFileSync(nodeFile(dir), "utf8")));
  if (!parsed.success) throw new Error(`${nodeFile(dir)} is not a valid node state: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function loadSeq(dir: string): number {
  try {
    const { seq } = z.object({ seq: z.number().int().min(0) }).parse(JSON.parse(readFileSync(seqFile(dir), "utf8")));
    return seq;
  } catch {
    return 0;
  }
}

export function saveSeq(dir: string, seq: number): void {
  writeSecretFile(seqFile(dir), JSON.stringify({ seq }) + "\n");
}
