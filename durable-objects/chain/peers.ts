import { z } from "zod";
import { blockHeader } from "../../shared/chain/block.ts";

/**
 * The HTTP side of peer sync: reads another deployment's public chain API
 * (GET /api/v1/chain/stats, /blocks, /sync/blocks). Every answer is checked with zod before
 * anything looks at it; the blocks themselves are validated by the chain rules afterwards.
 * Calls are plain GETs (idempotent) with a timeout; the back-off between failed rounds is the
 * caller's (PeerBackoff).
 */
const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const signedHeader = z.object({ header: blockHeader, hash: hex32, signature: z.string().regex(/^([0-9a-f]{128})?$/) });

export const peerStats = z.object({ chain: z.string(), height: z.number().int().min(0), headHash: hex32, weight: z.number().int().min(0) });
const headerPage = z.object({ blocks: z.array(signedHeader) });
export const fullBlock = signedHeader.extend({ txs: z.array(z.unknown()) });
const blockPage = z.object({ blocks: z.array(fullBlock) });

export type PeerStats = z.infer<typeof peerStats>;
export type PeerHeader = z.infer<typeof signedHeader>;
export type PeerBlock = z.infer<typeof fullBlock>;

export class PeerError extends Error {
  override name = "PeerError";
}

/** How peers are reached: the Worker's outbound fetch by default. */
export type PeerFetch = (url: string, init: RequestInit) => Promise<Response>;

export class PeerClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly fetcher: PeerFetch = (url, init) => fetch(url, init),
  ) {}

  stats(): Promise<PeerStats> {
    return this.#get("/api/v1/chain/stats", peerStats);
  }

  async headers(from: number, limit: number): Promise<PeerHeader[]> {
    return (await this.#get(`/api/v1/chain/blocks?from=${from}&limit=${limit}`, headerPage)).blocks;
  }

  async blocks(from: number, limit: number): Promise<PeerBlock[]> {
    return (await this.#get(`/api/v1/chain/sync/blocks?from=${from}&limit=${limit}`, blockPage)).blocks;
  }

  async #get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.baseUrl}${path}`, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      throw new PeerError(`${this.baseUrl} unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new PeerError(`${this.baseUrl}${path} answered ${res.status}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new PeerError(`${this.baseUrl}${path} did not answer JSON`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new PeerError(`${this.baseUrl}${path} answered an unexpected shape: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }
}

/** Per-peer back-off after failed rounds: one slot, doubling, at most 8 slots or a minute. In memory only. */
export class PeerBackoff {
  readonly #failures = new Map<string, { count: number; until: number }>();

  ready(peer: string, now: number): boolean {
    return (this.#failures.get(peer)?.until ?? 0) <= now;
  }

  failed(peer: string, now: number, slotMs: number): void {
    const count = (this.#failures.get(peer)?.count ?? 0) + 1;
    this.#failures.set(peer, { count, until: now + Math.min(slotMs * 2 ** (count - 1), slotMs * 8, 60_000) });
  }

  succeeded(peer: string): void {
    this.#failures.delete(peer);
  }
}
