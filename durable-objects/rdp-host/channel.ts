import { hexToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { AgentMessage, agentSigningBytes, ErrorFrame, type ServerFrame } from "../../shared/rdp/protocol.ts";

/**
 * The agent socket's state, kept in its hibernation attachment (survives the DO sleeping):
 * who the socket authenticated as, its channel id, and the last accepted `seq`.
 */
export const AttachmentSchema = z.object({
  hostId: z.string(),
  publicKey: z.string().regex(/^[0-9a-f]{64}$/),
  channel: z.string(),
  lastSeq: z.number().int().min(0),
  helloed: z.boolean(),
  lastMessageAt: z.number().int(),
  /** The port range the agent said it serves in its hello (absent: the whole pool). */
  ports: z.object({ min: z.number().int(), max: z.number().int() }).optional(),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

export const AGENT_TAG = "agent";

/** Internal headers the route sets on the upgrade after verifying the node credential. */
export const HOST_HEADER = "X-Lucid-Rdp-Host";
export const PUBLIC_KEY_HEADER = "X-Lucid-Rdp-Public-Key";

export type Verdict = { ok: true; message: AgentMessage } | { ok: false; code: string; detail: string; ref?: number };

// Imported keys by hex: importing costs more than verifying. Keys, not promises: nothing
// settled by one request's work is awaited by another.
const keys = new Map<string, CryptoKey>();
async function importKey(publicKey: string): Promise<CryptoKey> {
  const cached = keys.get(publicKey);
  if (cached) return cached;
  const key = await crypto.subtle.importKey("raw", hexToBytes(publicKey), { name: "Ed25519" }, false, ["verify"]);
  keys.set(publicKey, key);
  if (keys.size > 2000) keys.delete(keys.keys().next().value!);
  return key;
}

/** Ed25519 through WebCrypto (native in workerd). */
export async function verifyEd25519(publicKey: string, message: Uint8Array, signatureHex: string): Promise<boolean> {
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, await importKey(publicKey), hexToBytes(signatureHex), message);
  } catch {
    return false;
  }
}

/**
 * Schema, channel, sequence and signature, cheapest first. A refusal leaves the attachment
 * untouched: nothing a forger sends advances the channel.
 */
export async function checkAgentFrame(raw: string | ArrayBuffer, att: Attachment): Promise<Verdict> {
  if (typeof raw !== "string") return { ok: false, code: "invalid-message", detail: "Frames are JSON text." };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: "invalid-message", detail: "The frame is not JSON." };
  }
  const parsed = AgentMessage.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, code: "invalid-message", detail: `${issue?.path.join(".") || "frame"}: ${issue?.message ?? "invalid"}` };
  }
  const message = parsed.data;
  if (message.channel !== att.channel)
    return { ok: false, code: "wrong-channel", detail: "The frame carries another channel id.", ref: message.seq };
  if (message.seq <= att.lastSeq) {
    return {
      ok: false,
      code: "replayed-message",
      detail: `seq ${message.seq} is not above the last accepted ${att.lastSeq}.`,
      ref: message.seq,
    };
  }
  if (!(await verifyEd25519(att.publicKey, agentSigningBytes(att.hostId, message), message.sig))) {
    return { ok: false, code: "invalid-signature", detail: "The signature does not verify with this node's key.", ref: message.seq };
  }
  return { ok: true, message };
}

export function errorFrame(code: string, detail: string, ref?: number): string {
  const frame: ServerFrame = ErrorFrame.parse({ type: "error", code, detail: detail.slice(0, 500), ...(ref ? { ref } : {}) });
  return JSON.stringify(frame);
}

export function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One-time passwords: 24 random bytes, base64url (32 characters). */
export function oneTimePassword(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}
