// A client of a self-hosted Lucid over HTTPS that trusts exactly one certificate (or over plain HTTP on loopback) (as the pinned
// Electron GUI does), TRON wallets that log in by signing the server's challenge (TIP-191), and the
// enrolment of a node through the real API. Shared by the whole-flow e2e test and bench/workerd-rss.
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { TronWeb, Trx } from "tronweb";
import { Agent, fetch as undiciFetch } from "undici";
import { registrationMessage } from "../../../shared/nodes/protocol.ts";
import { totpCode } from "../../../shared/totp.ts";
import { until } from "../../node/helpers/until.ts";

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

// No constructor parameter properties: bench/ loads this file with Node's type stripping.
export class HttpsClient {
  readonly base: string;
  readonly dispatcher: Agent;

  /** `certPem`: the one certificate to trust over HTTPS; without it, plain HTTP on loopback. */
  constructor(base: string, certPem?: string) {
    this.base = base;
    this.dispatcher = new Agent(certPem ? { connect: { ca: certPem } } : {});
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    const res = await undiciFetch(`${this.base}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      dispatcher: this.dispatcher,
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body: body as T, text };
  }

  /** Calls and insists on `status`, showing the server's answer when it differs. */
  async expect<T = Record<string, unknown>>(
    status: number,
    method: string,
    path: string,
    options: Parameters<HttpsClient["call"]>[2] = {},
  ): Promise<T> {
    const reply = await this.call<T>(method, path, options);
    if (reply.status !== status) throw new Error(`${method} ${path} answered ${reply.status}, expected ${status}: ${reply.text}`);
    return reply.body;
  }

  async bytes(path: string, token: string): Promise<Uint8Array> {
    const res = await undiciFetch(`${this.base}${path}`, { headers: { Authorization: `Bearer ${token}` }, dispatcher: this.dispatcher });
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

export interface Login {
  accessToken: string;
  user: { id: string; role: string };
  effectiveRole: string;
  secondFactor: string;
}

/** A TRON account (tronweb) that logs in the way a wallet does: challenge → signMessageV2 → verify. */
export class TronWallet {
  readonly address: string;
  readonly #privateKey: string;

  private constructor(address: string, privateKey: string) {
    this.address = address;
    this.#privateKey = privateKey;
  }

  static async create(): Promise<TronWallet> {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    return new TronWallet(account.address.base58, account.privateKey);
  }

  async login(client: HttpsClient, extra: Record<string, unknown> = {}): Promise<Login> {
    const { message, nonce } = await client.expect<{ message: string; nonce: string }>(200, "POST", "/api/v1/auth/challenge", {
      json: { address: this.address, walletKind: "software" },
    });
    const signature = Trx.signMessageV2(message, this.#privateKey);
    return client.expect<Login>(200, "POST", "/api/v1/auth/verify", { json: { address: this.address, nonce, signature, ...extra } });
  }
}

/**
 * The bootstrap SUPER_ADMIN (BOOTSTRAP_SUPER_ADMIN_ADDRESS) logs in, enrols TOTP and logs in again with
 * a recovery code (the confirming code's time step is spent), which gives a token with full powers.
 */
export async function superAdminLogin(
  client: HttpsClient,
  wallet: TronWallet,
): Promise<{ first: Login; full: Login; secret: string; recoveryCodes: string[] }> {
  const first = await wallet.login(client);
  const { secret } = await client.expect<{ secret: string }>(200, "POST", "/api/v1/auth/totp/enrol", {
    token: first.accessToken,
    json: {},
  });
  const { recoveryCodes } = await client.expect<{ recoveryCodes: string[] }>(200, "POST", "/api/v1/auth/totp/confirm", {
    token: first.accessToken,
    json: { code: totpCode(secret, Date.now() / 1000) },
  });
  const full = await wallet.login(client, { recoveryCode: recoveryCodes[0] });
  // The TOTP secret and the recovery codes still unused: emergency controls need one factor per use.
  return { first, full, secret, recoveryCodes: recoveryCodes.slice(1) };
}

/** A new wallet that the admin makes a NODE_OPERATOR; it logs in again to carry the role. */
export async function nodeOperator(client: HttpsClient, adminToken: string): Promise<{ wallet: TronWallet; login: Login }> {
  const wallet = await TronWallet.create();
  const asUser = await wallet.login(client);
  await client.expect(200, "PUT", `/api/v1/users/${asUser.user.id}/role`, { token: adminToken, json: { role: "NODE_OPERATOR" } });
  return { wallet, login: await wallet.login(client) };
}

/** Registers a node as the agent enrols: proof of possession of its Ed25519 key. Returns its id and credential. */
export async function registerNode(
  client: HttpsClient,
  operator: { wallet: TronWallet; login: Login },
): Promise<{ nodeId: string; credential: string }> {
  const nodeKey = ed25519.utils.randomSecretKey();
  const unsigned = {
    publicKey: bytesToHex(ed25519.getPublicKey(nodeKey)),
    payoutAddress: operator.wallet.address,
    resources: { cpuCores: 4, memoryMb: 8192, diskGb: 128, bandwidthMbps: 100 },
    timestamp: Date.now(),
  };
  const signature = bytesToHex(ed25519.sign(registrationMessage(operator.login.user.id, unsigned), nodeKey));
  const registered = await client.expect<{ node: { id: string }; credential: { token: string } }>(201, "POST", "/api/v1/nodes", {
    token: operator.login.accessToken,
    json: { ...unsigned, signature },
  });
  return { nodeId: registered.node.id, credential: registered.credential.token };
}

export interface ApiInit {
  method?: string;
  body?: unknown;
  token?: string;
}

/** A JSON call to `${base}/api/v1${path}` (POST when there is a body); an answer that is not 2xx throws with its body. */
export async function apiJson<T>(base: string, path: string, init: ApiInit = {}): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Waits until session `sessionId` is stored (or anchored, completed) after its stop, as the dashboard tests need. */
export async function untilStored(base: string, sessionId: string, token: string): Promise<void> {
  let state = "";
  await until(
    "the session stored",
    async () => {
      ({ state } = await apiJson<{ state: string }>(base, `/sessions/${sessionId}`, { token }));
      return ["stored", "anchored", "completed"].includes(state);
    },
    { intervalMs: 200, detail: () => `the session stayed ${state}` },
  );
}
