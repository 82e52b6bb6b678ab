import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  credentialRequestMessage,
  heartbeatMessage,
  registrationMessage,
  type Report,
  type Resources,
} from "../../shared/nodes/protocol.ts";
import { api, tokenFor } from "./helpers.ts";

/** A node as the Pi agent acts: its own Ed25519 key, a sequence counter, the pool's last challenge, signed requests. */
export const PAYOUT_ADDRESS = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC";
export const PI5: Resources = { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 };
export const QUIET: Report = {
  cpuPercent: 12,
  memoryPercent: 40,
  diskPercent: 20,
  networkMbps: 5,
  sessionsHosted: 0,
  bytesRecorded: 0,
  accepting: true,
};

type SecretKey = ReturnType<typeof ed25519.utils.randomSecretKey>;

export class TestNode {
  readonly secretKey = ed25519.utils.randomSecretKey();
  readonly publicKey = bytesToHex(ed25519.getPublicKey(this.secretKey));
  id = "";
  pool = "";
  credential = "";
  jti = "";
  seq = 0;
  /** The challenge the next beat signs (from registration, then each accepted beat). */
  challenge = "";

  constructor(readonly operatorId: string) {}

  sign(message: Uint8Array, key: SecretKey = this.secretKey): string {
    return bytesToHex(ed25519.sign(message, key));
  }

  registrationBody(
    overrides: { resources?: Resources; payoutAddress?: string; timestamp?: number; pool?: string; signWith?: SecretKey } = {},
  ) {
    const unsigned = {
      publicKey: this.publicKey,
      payoutAddress: overrides.payoutAddress ?? PAYOUT_ADDRESS,
      resources: overrides.resources ?? PI5,
      timestamp: overrides.timestamp ?? Date.now(),
    };
    const signature = this.sign(registrationMessage(this.operatorId, unsigned), overrides.signWith);
    return { ...unsigned, ...(overrides.pool ? { pool: overrides.pool } : {}), signature };
  }

  async register(overrides: Parameters<TestNode["registrationBody"]>[0] = {}): Promise<Response> {
    const res = await api("/api/v1/nodes", {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor(this.operatorId, "NODE_OPERATOR")}`, "Content-Type": "application/json" },
      body: JSON.stringify(this.registrationBody(overrides)),
    });
    if (res.status === 201) {
      const body = await res
        .clone()
        .json<{ node: { id: string; pool: string }; credential: { token: string; jti: string }; heartbeatChallenge: string }>();
      this.challenge = body.heartbeatChallenge;
      this.id = body.node.id;
      this.pool = body.node.pool;
      this.credential = body.credential.token;
      this.jti = body.credential.jti;
    }
    return res;
  }

  heartbeatBody(options: { seq?: number; sentAt?: number; report?: Report; signWith?: SecretKey; challenge?: string } = {}) {
    const unsigned = {
      seq: options.seq ?? this.seq + 1,
      challenge: options.challenge ?? this.challenge,
      sentAt: options.sentAt ?? Date.now(),
      report: options.report ?? QUIET,
    };
    return { ...unsigned, signature: this.sign(heartbeatMessage(this.id, unsigned), options.signWith) };
  }

  /** Sends a beat; a 200 advances the local sequence. */
  async beat(options: Parameters<TestNode["heartbeatBody"]>[0] & { credential?: string | null; nodeId?: string } = {}): Promise<Response> {
    const body = this.heartbeatBody(options);
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    const credential = options.credential === undefined ? this.credential : options.credential;
    if (credential !== null) headers["X-Node-Credential"] = credential;
    const res = await api(`/api/v1/nodes/${options.nodeId ?? this.id}/heartbeats`, { method: "POST", headers, body: JSON.stringify(body) });
    if (res.status === 200) {
      this.seq = body.seq;
      this.challenge = (await res.clone().json<{ challenge: string }>()).challenge;
    }
    return res;
  }

  /** Sends an already built body (a replay, a pre-signed beat) as it is. */
  async send(body: unknown): Promise<Response> {
    return api(`/api/v1/nodes/${this.id}/heartbeats`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Node-Credential": this.credential },
      body: JSON.stringify(body),
    });
  }

  /** GET heartbeat-challenge, as an agent does after a restart; adopts the answer. */
  async fetchChallenge(credential: string | null = this.credential): Promise<Response> {
    const headers: Record<string, string> = credential === null ? {} : { "X-Node-Credential": credential };
    const res = await api(`/api/v1/nodes/${this.id}/heartbeat-challenge`, { headers });
    if (res.status === 200) this.challenge = (await res.clone().json<{ challenge: string }>()).challenge;
    return res;
  }

  credentialRequest(timestamp = Date.now()) {
    return { timestamp, signature: this.sign(credentialRequestMessage(this.id, timestamp)) };
  }
}

/**
 * A request with a real ADMIN's token (test/worker/admin-helpers.ts steppedUpAdmin): privileged
 * writes (shared/rbac.ts PRIVILEGED) check the caller's current role and login session.
 */
export async function asAdmin(token: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  return api(path, { ...init, headers });
}

export async function asOperator(
  operatorId: string,
  path: string,
  init: RequestInit = {},
  role: "NODE_OPERATOR" | "ADMIN" | "USER" = "NODE_OPERATOR",
) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${await tokenFor(operatorId, role)}`);
  if (init.body) headers.set("Content-Type", "application/json");
  return api(path, { ...init, headers });
}

/** EPOCH_SECONDS in wrangler.toml, in ms. */
export const EPOCH_MS = 3600 * 1000;

export function poolStub(name: string) {
  return env.NODE_POOLS.get(env.NODE_POOLS.idFromName(name));
}

/**
 * Accepted beats of a past epoch, written as the pool would have stored them (offsets in seconds
 * from the epoch's start): epoch arithmetic without waiting an hour.
 */
export async function storeBeats(node: TestNode, epoch: number, beats: [offset: number, sessions: number, bytes: number][]) {
  await runInDurableObject(poolStub(node.pool), (_instance, state) => {
    const start = epoch * EPOCH_MS;
    for (const [offset, sessions, bytes] of beats) {
      node.seq += 1;
      const at = start + Math.round(offset * 1000);
      state.storage.sql.exec(
        "INSERT INTO heartbeats (node_id, seq, at, sent_at, cpu_percent, memory_percent, disk_percent, network_mbps, sessions_hosted, bytes_recorded) VALUES (?, ?, ?, ?, 10, 10, 10, 10, ?, ?)",
        node.id,
        node.seq,
        at,
        at,
        sessions,
        bytes,
      );
    }
  });
}

/** Sets what a node has earned and not yet requested (as closed epochs would have), in base units; credits follow at 1 per 1000 units. */
export async function setAccrued(node: TestNode, units: number) {
  await runInDurableObject(poolStub(node.pool), (_i, state) => {
    state.storage.sql.exec(
      "UPDATE nodes SET accrued_units = ?, accrued_credits = ? WHERE id = ?",
      units,
      Math.floor(units / 1000),
      node.id,
    );
  });
}
