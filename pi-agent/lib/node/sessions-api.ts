/**
 * What the agent asks the sessions API (functions/sessions) before recording a session it hosts:
 * to start it (created → recording, so chunk uploads are accepted) and for its data key, so the
 * chunks are sealed under the key the session's owner can later open.
 */
import { z } from "zod";
import type { NodeState } from "./state.ts";

const DataKey = z.object({ sessionId: z.string(), key: z.string(), algorithm: z.string() });

function headers(state: NodeState): Record<string, string> {
  return { [state.credential.header]: state.credential.token };
}

async function problem(res: Response): Promise<string> {
  const body = z.object({ detail: z.string().optional() }).safeParse(await res.json().catch(() => null));
  return `HTTP ${res.status}${body.success && body.data.detail ? `: ${body.data.detail}` : ""}`;
}

/** created → recording; a session already recording is fine (a restarted server resumes it). */
export async function startSession(state: NodeState, sessionId: string): Promise<void> {
  return startSessionWithToken(state.server, sessionId, state.credential.token);
}

/** startSession for a recorder that has the server's origin and the node credential only. */
export async function startSessionWithToken(server: string, sessionId: string, token: string): Promise<void> {
  const res = await fetch(new URL(`/api/v1/sessions/${encodeURIComponent(sessionId)}/start`, server), {
    method: "POST",
    headers: { "X-Node-Credential": token },
    signal: AbortSignal.timeout(15_000),
  });
  if (res.ok) return void (await res.arrayBuffer());
  const why = await problem(res);
  if (res.status === 409) return; // not in `created` any more: recording already, which is what we need
  throw new Error(`cannot start session ${sessionId}: ${why}`);
}

/** The session's 32-byte data key as 64 hex characters (the spool's session.key format). */
export async function sessionKeyHex(state: NodeState, sessionId: string): Promise<string> {
  const res = await fetch(new URL(`/api/v1/sessions/${encodeURIComponent(sessionId)}/key`, state.server), {
    headers: headers(state),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`cannot fetch the data key of session ${sessionId}: ${await problem(res)}`);
  const key = Buffer.from(DataKey.parse(await res.json()).key, "base64");
  if (key.length !== 32) throw new Error(`session ${sessionId}'s data key is ${key.length} bytes, not 32`);
  return key.toString("hex");
}

const Handovers = z.object({ nodeId: z.string(), firstIndex: z.number().int().nonnegative().nullable() });

/**
 * The chunk index this node's recording of the session starts at: 0, or, for a session handed
 * over from another node (a migrated desktop), that node's chunk count; null while it has not
 * declared it yet (ask again in a few seconds).
 */
export async function firstChunkIndex(state: NodeState, sessionId: string): Promise<number | null> {
  const res = await fetch(new URL(`/api/v1/sessions/${encodeURIComponent(sessionId)}/handover`, state.server), {
    headers: headers(state),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`cannot ask where session ${sessionId}'s recording continues: ${await problem(res)}`);
  return Handovers.parse(await res.json()).firstIndex;
}

/** After handing the session over: how many chunks this node recorded (its spool's next index). */
export async function declareHandoverCount(state: NodeState, sessionId: string, chunkCount: number): Promise<void> {
  const res = await fetch(new URL(`/api/v1/sessions/${encodeURIComponent(sessionId)}/handover/seal`, state.server), {
    method: "POST",
    headers: { ...headers(state), "Content-Type": "application/json" },
    body: JSON.stringify({ chunkCount }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`cannot declare session ${sessionId}'s ${chunkCount} chunks: ${await problem(res)}`);
  await res.arrayBuffer();
}
