// The demo's people and machine acting through the public API exactly as the GUI and the agent do:
// TRON-signature logins (TIP-191), TOTP for the admin, and a node signing with its Ed25519 key.
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { credentialRequestMessage, heartbeatMessage, registrationMessage, type Resources } from "../../shared/nodes/protocol.ts";
import { TOTP_STEP_SECONDS, totpCode } from "../../shared/totp.ts";
import { signMessageV2 } from "../../shared/tron/message-signature.ts";
import { ApiFailure, type DemoHttp } from "./http.ts";
import type { Wallet } from "./identities.ts";

export interface LoginResult {
  accessToken: string;
  user: { id: string; role: string; tronAddress: string | null };
  effectiveRole: string;
  secondFactor: "passed" | "not-required" | "enrolment-required";
}

/**
 * Challenge → sign → verify; `totpSecret` answers the second factor an ADMIN+ account asks for.
 * A TOTP code is good once, so a code already spent in this 30 s step (by enrolment, or a restart
 * moments ago) is refused: then wait for the next step and sign a new challenge.
 */
export async function tronLogin(http: DemoHttp, wallet: Wallet, totpSecret?: string, recoveryCode?: string): Promise<LoginResult> {
  const attempt = async () => {
    const { message, nonce } = await http.call<{ message: string; nonce: string }>("/api/v1/auth/challenge", {
      body: { address: wallet.address },
    });
    const body: Record<string, string> = { address: wallet.address, nonce, signature: signMessageV2(message, wallet.key) };
    if (recoveryCode) body.recoveryCode = recoveryCode;
    else if (totpSecret) body.totpCode = totpCode(totpSecret, Math.floor(Date.now() / 1000));
    return http.call<LoginResult>("/api/v1/auth/verify", { body });
  };
  try {
    return await attempt();
  } catch (error) {
    if (!totpSecret || recoveryCode || !(error instanceof ApiFailure) || error.status !== 401) throw error;
    const stepMs = TOTP_STEP_SECONDS * 1000;
    await new Promise((resolve) => setTimeout(resolve, stepMs - (Date.now() % stepMs) + 500));
    return attempt();
  }
}

/** Enrols and confirms TOTP for the holder of `token`; returns the base32 secret and the recovery codes. */
export async function enrolTotp(http: DemoHttp, token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = await http.call<{ secret: string }>("/api/v1/auth/totp/enrol", { token, body: {} });
  const { recoveryCodes } = await http.call<{ recoveryCodes: string[] }>("/api/v1/auth/totp/confirm", {
    token,
    body: { code: totpCode(secret, Math.floor(Date.now() / 1000)) },
  });
  return { secret, recoveryCodes };
}

export interface NodeView {
  id: string;
  pool: string;
  state: string;
  publicKey: string;
  lastSeq: number;
}

/** A Pi 5 as the agent describes it when it enrols. */
export const DEMO_NODE_RESOURCES: Resources = { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 };

export class DemoNode {
  id = "";
  credential = "";
  private seq = 0;
  /** The pool's challenge for the next beat (registration answer, then each accepted beat). */
  private challenge: string | null = null;

  private readonly http: DemoHttp;
  private readonly secretKey: Uint8Array;
  readonly publicKey: string;

  constructor(http: DemoHttp, secretKey: Uint8Array, publicKey: string) {
    this.http = http;
    this.secretKey = secretKey;
    this.publicKey = publicKey;
  }

  private sign(message: Uint8Array): string {
    return bytesToHex(ed25519.sign(message, this.secretKey));
  }

  /** Finds this key's node among the operator's, registering it if there is none yet. */
  async enrol(operatorId: string, operatorToken: string, payoutAddress: string): Promise<{ node: NodeView; created: boolean }> {
    const { nodes } = await this.http.call<{ nodes: NodeView[] }>("/api/v1/nodes", { token: operatorToken });
    const existing = nodes.find((n) => n.publicKey === this.publicKey);
    if (existing) {
      this.id = existing.id;
      this.seq = existing.lastSeq;
      const timestamp = Date.now();
      const credential = await this.http.call<{ token: string }>(`/api/v1/nodes/${existing.id}/credentials`, {
        token: operatorToken,
        body: { timestamp, signature: this.sign(credentialRequestMessage(existing.id, timestamp)) },
      });
      this.credential = credential.token;
      return { node: existing, created: false };
    }
    const unsigned = { publicKey: this.publicKey, payoutAddress, resources: DEMO_NODE_RESOURCES, timestamp: Date.now() };
    const registered = await this.http.call<{ node: NodeView; credential: { token: string }; heartbeatChallenge: string }>(
      "/api/v1/nodes",
      {
        token: operatorToken,
        body: { ...unsigned, signature: this.sign(registrationMessage(operatorId, unsigned)) },
      },
    );
    this.id = registered.node.id;
    this.credential = registered.credential.token;
    this.challenge = registered.heartbeatChallenge;
    return { node: registered.node, created: true };
  }

  /** One signed heartbeat; the sequence continues from the last one the server accepted. */
  async heartbeat(sessionsHosted: number, bytesRecorded: number): Promise<void> {
    if (this.challenge === null) {
      const current = await this.http.call<{ challenge: string; lastSeq: number }>(`/api/v1/nodes/${this.id}/heartbeat-challenge`, {
        headers: { "X-Node-Credential": this.credential },
      });
      this.challenge = current.challenge;
      this.seq = Math.max(this.seq, current.lastSeq);
    }
    const unsigned = {
      seq: this.seq + 1,
      challenge: this.challenge,
      sentAt: Date.now(),
      report: { cpuPercent: 14, memoryPercent: 38, diskPercent: 21, networkMbps: 6, sessionsHosted, bytesRecorded, accepting: true },
    };
    const accepted = await this.http.call<{ challenge: string }>(`/api/v1/nodes/${this.id}/heartbeats`, {
      headers: { "X-Node-Credential": this.credential },
      body: { ...unsigned, signature: this.sign(heartbeatMessage(this.id, unsigned)) },
    });
    this.seq = unsigned.seq;
    this.challenge = accepted.challenge;
  }
}
