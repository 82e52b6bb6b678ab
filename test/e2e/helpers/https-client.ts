// A client of a self-hosted Lucid over HTTPS that trusts exactly one certificate (as the pinned
// Electron GUI does), and TRON wallets that log in by signing the server's challenge (TIP-191).
import { TronWeb, Trx } from "tronweb";
import { Agent, fetch as undiciFetch } from "undici";
import { expect } from "vitest";

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export class HttpsClient {
  readonly dispatcher: Agent;

  constructor(
    readonly base: string,
    certPem: string,
  ) {
    this.dispatcher = new Agent({ connect: { ca: certPem } });
  }

  async call<T = Record<string, unknown>>(method: string, path: string, options: { token?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
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
  async expect<T = Record<string, unknown>>(status: number, method: string, path: string, options: Parameters<HttpsClient["call"]>[2] = {}): Promise<T> {
    const reply = await this.call<T>(method, path, options);
    expect(reply.status, `${method} ${path}: ${reply.text}`).toBe(status);
    return reply.body;
  }

  async bytes(path: string, token: string): Promise<Uint8Array> {
    const res = await undiciFetch(`${this.base}${path}`, { headers: { Authorization: `Bearer ${token}` }, dispatcher: this.dispatcher });
    expect(res.status, path).toBe(200);
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
  private constructor(
    readonly address: string,
    private readonly privateKey: string,
  ) {}

  static async create(): Promise<TronWallet> {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    return new TronWallet(account.address.base58, account.privateKey);
  }

  async login(client: HttpsClient, extra: Record<string, unknown> = {}): Promise<Login> {
    const { message } = await client.expect<{ message: string }>(200, "POST", "/api/v1/auth/challenge", {
      json: { address: this.address, walletKind: "software" },
    });
    const signature = Trx.signMessageV2(message, this.privateKey);
    return client.expect<Login>(200, "POST", "/api/v1/auth/verify", { json: { address: this.address, signature, ...extra } });
  }
}
