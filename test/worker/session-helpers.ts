import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { formatContentDigest } from "../../shared/chunk.ts";
import type { Env } from "../../platform/env.ts";
import { expect } from "vitest";
import { api, tokenFor } from "./helpers.ts";
import { TestNode } from "./node-agent.ts";

export const env: Env = workerEnv;

export interface SessionJson {
  id: string;
  ownerId: string;
  nodeId: string;
  state: string;
  chunks: { count: number; contiguous: number; bytes: number };
  treeSize: number | null;
  merkleRoot: string | null;
  keyShredded: boolean;
  deleted: boolean;
  [key: string]: unknown;
}

export async function userHeaders(userId: string, role: "USER" | "ADMIN" = "USER") {
  return { Authorization: `Bearer ${await tokenFor(userId, role)}`, "Content-Type": "application/json" };
}

const namedNodes = new Map<string, TestNode>();

/**
 * A node registered for real (its own operator and Ed25519 key, a credential from functions/nodes)
 * under a name local to the current test, so tests can say "n4" and get the same node each time.
 */
export async function testNode(name: string): Promise<TestNode> {
  const key = `${expect.getState().currentTestName ?? ""}\u0000${name}`;
  let node = namedNodes.get(key);
  if (!node) {
    node = new TestNode(`operator-of-${name}-${crypto.randomUUID()}`);
    const res = await node.register();
    if (res.status !== 201) throw new Error(`registering node ${name} failed: ${res.status} ${await res.text()}`);
    namedNodes.set(key, node);
  }
  return node;
}

/** A test node's name, or the id of a node a test registered itself (`node_…`), as the node's id. */
export async function nodeIdOf(nameOrId: string): Promise<string> {
  return nameOrId.startsWith("node_") ? nameOrId : (await testNode(nameOrId)).id;
}

export async function nodeHeaders(name: string) {
  return { Authorization: `Bearer ${(await testNode(name)).credential}` };
}

export async function createSession(ownerId: string, nodeId: string, extra: Record<string, unknown> = {}): Promise<SessionJson> {
  const res = await api("/api/v1/sessions", {
    method: "POST",
    headers: await userHeaders(ownerId),
    body: JSON.stringify({ nodeId: await nodeIdOf(nodeId), title: `Session of ${ownerId}`, ...extra }),
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as SessionJson;
}

export async function recordingSession(ownerId: string, nodeId: string): Promise<SessionJson> {
  const session = await createSession(ownerId, nodeId);
  const res = await api(`/api/v1/sessions/${session.id}/start`, { method: "POST", headers: await userHeaders(ownerId) });
  if (res.status !== 200) throw new Error(`start failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as SessionJson;
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Deterministic "ciphertext" bytes for a chunk. */
export function chunkBytes(index: number, size = 4096, salt = 0): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + index * 13 + salt * 31) % 256);
}

export async function uploadHeaders(bytes: Uint8Array, overrides: Record<string, string | undefined> = {}) {
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Content-Digest": formatContentDigest(await sha256(bytes)),
    "Lucid-Chunk-Nonce": "ab".repeat(24),
    "Lucid-Plain-Size": String(bytes.length * 2),
    "Lucid-Compressed-Size": String(bytes.length - 16),
    "Lucid-Capture-Start": "1764000000000",
    "Lucid-Capture-End": "1764000010000",
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return headers;
}

export async function putChunk(
  sessionId: string,
  index: number,
  bytes: Uint8Array,
  nodeId: string,
  overrides: Record<string, string | undefined> = {},
): Promise<Response> {
  return api(`/api/v1/sessions/${sessionId}/chunks/${index}`, {
    method: "PUT",
    headers: { ...(await nodeHeaders(nodeId)), ...(await uploadHeaders(bytes, overrides)) },
    body: bytes,
  });
}

/** The chunk objects stored for a session in the chunk store, in key (= index) order. */
export async function storedChunks(id: string) {
  return (await env.CHUNKS.list({ prefix: `sessions/${id}/chunks/` })).objects.sort((a, b) => a.key.localeCompare(b.key));
}

export function sessionDO(id: string) {
  return env.SESSIONS.get(env.SESSIONS.idFromName(id));
}

/** Runs the session's alarm until its state leaves `from` (at most `rounds` times); returns the state. */
export async function settle(id: string, until: (state: string) => boolean, rounds = 5): Promise<string> {
  const stub = sessionDO(id);
  for (let i = 0; i < rounds; i++) {
    const view = await stub.get({ kind: "user", userId: "root", role: "ADMIN" });
    if (view.ok && until(view.value.state)) return view.value.state;
    await runDurableObjectAlarm(stub);
  }
  const view = await stub.get({ kind: "user", userId: "root", role: "ADMIN" });
  return view.ok ? view.value.state : "missing";
}

/** Moves the session's clock forward: every pending task (and, if asked, retention) becomes due now. */
export async function makeTasksDue(id: string, options: { expire?: boolean } = {}) {
  await runInDurableObject(sessionDO(id), (_instance, state) => {
    state.storage.sql.exec("UPDATE tasks SET due_at = 0");
    if (options.expire) state.storage.sql.exec("UPDATE session SET expires_at = 0");
  });
}
