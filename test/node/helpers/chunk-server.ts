/**
 * A small real HTTP server on 127.0.0.1 that implements the chunk upload contract of
 * shared/chunk.ts (the agent's outside world; the real sessions function is a separate surface).
 * It can be taken down and brought back on the same port, and can answer slowly. It also takes a
 * chunk's search terms (PUT …/chunks/N/terms, issue #20) as the sessions function's contract says:
 * 204 once the chunk is stored, or the answer a test sets in `termsAnswer`.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CHUNK_HEADERS, parseContentDigest, type ChunkReceipt } from "../../../shared/chunk.ts";

export interface StoredChunk {
  body: Buffer;
  sha256: string;
  headers: IncomingMessage["headers"];
  stores: number;
}

export class ChunkServer {
  readonly token: string;
  readonly chunks = new Map<string, Map<number, StoredChunk>>();
  /** PUT attempts seen per index (including ones cut off mid-body) */
  attempts = 0;
  responseDelayMs = 0;
  private server: Server | null = null;
  private port = 0;
  private readonly sockets = new Set<import("node:net").Socket>();
  /** Search terms taken, by session and chunk index, in the order they arrived. */
  readonly terms: { sessionId: string; index: number; titles: string[]; words: string[] }[] = [];
  /** Terms PUTs seen (answered or not). */
  termsAttempts = 0;
  /** How the next terms PUTs are answered: stored (204), the session's policy forbids them (409), or an error status. */
  termsAnswer: "store" | "policy" | number = "store";
  /** While true every connection is reset on arrival: the server is "down" but keeps its port. */
  private unreachable = false;

  constructor(token: string) {
    this.token = token;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on("connection", (s) => {
      if (this.unreachable) return void s.destroy();
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Goes down hard: refuses connections and drops open ones, as a crashed server would. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /**
   * Goes down without giving up its port: connections are reset as they arrive and open ones are
   * dropped. (Releasing the port, as stop() does, lets a parallel test's process take it meanwhile.)
   */
  goDown(): void {
    this.unreachable = true;
    for (const s of this.sockets) s.destroy();
  }

  comeBack(): void {
    this.unreachable = false;
  }

  session(id: string): Map<number, StoredChunk> {
    let chunks = this.chunks.get(id);
    if (!chunks) this.chunks.set(id, (chunks = new Map()));
    return chunks;
  }

  private problem(res: ServerResponse, status: number, detail: string): void {
    res.writeHead(status, { "content-type": "application/problem+json" });
    res.end(JSON.stringify({ type: "about:blank", title: "error", status, detail }));
  }

  private async handleTerms(req: IncomingMessage, res: ServerResponse, sessionId: string, index: number): Promise<void> {
    this.termsAttempts++;
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.problem(res, 401, "bad credential");
    if (req.headers["content-type"] !== "application/json") return this.problem(res, 415, "JSON only");
    let body = "";
    for await (const piece of req) body += piece;
    const answer = this.termsAnswer;
    if (answer === "policy") {
      res.writeHead(409, { "content-type": "application/problem+json" });
      return void res.end(JSON.stringify({ type: "/problems/interaction-policy", title: "forbidden by policy", status: 409 }));
    }
    if (typeof answer === "number") return this.problem(res, answer, "the test asked for this status");
    if (!this.session(sessionId).has(index)) return this.problem(res, 404, "no such chunk");
    const terms = JSON.parse(body) as { titles: string[]; words: string[] };
    const ok =
      Array.isArray(terms.titles) &&
      Array.isArray(terms.words) &&
      terms.titles.length <= 200 &&
      terms.words.length <= 5000 &&
      terms.titles.every((t) => typeof t === "string" && t.length <= 1024) &&
      terms.words.every((w) => typeof w === "string" && w.length >= 2 && w.length <= 64 && w === w.normalize("NFKC").toLowerCase());
    if (!ok) return this.problem(res, 400, "malformed terms");
    this.terms.push({ sessionId, index, titles: terms.titles, words: terms.words });
    res.writeHead(204);
    res.end();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const terms = /^\/api\/v1\/sessions\/([^/]+)\/chunks\/(\d+)\/terms$/.exec(req.url ?? "");
    if (terms && req.method === "PUT") return this.handleTerms(req, res, decodeURIComponent(terms[1]!), Number(terms[2]));
    const match = /^\/api\/v1\/sessions\/([^/]+)\/chunks\/(\d+)$/.exec(req.url ?? "");
    if (!match || req.method !== "PUT") return this.problem(res, 404, "no such route");
    this.attempts++;
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.problem(res, 401, "bad credential");
    if (req.headers["content-type"] !== "application/octet-stream") return this.problem(res, 415, "octet-stream only");
    const digest = parseContentDigest(req.headers[CHUNK_HEADERS.digest.toLowerCase()] as string | undefined);
    const nonce = req.headers[CHUNK_HEADERS.nonce.toLowerCase()];
    const length = Number(req.headers["content-length"]);
    if (!digest || typeof nonce !== "string" || !/^[0-9a-f]{48}$/.test(nonce) || !(length > 0)) {
      return this.problem(res, 400, "missing or malformed chunk headers");
    }
    for (const h of [CHUNK_HEADERS.plainSize, CHUNK_HEADERS.compressedSize, CHUNK_HEADERS.captureStart, CHUNK_HEADERS.captureEnd]) {
      if (!/^\d+$/.test(String(req.headers[h.toLowerCase()]))) return this.problem(res, 400, `${h} is not an integer`);
    }
    const pieces: Buffer[] = [];
    try {
      for await (const piece of req) pieces.push(piece as Buffer);
    } catch {
      return; // the client went away mid-body: nothing is stored
    }
    const body = Buffer.concat(pieces);
    if (body.length !== length) return this.problem(res, 400, "body shorter than Content-Length");
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (sha256 !== digest) return this.problem(res, 400, "Content-Digest does not match the body");
    // Not a wait: answering slowly is the fault a test asks for.
    if (this.responseDelayMs) await new Promise((r) => setTimeout(r, this.responseDelayMs));
    const sessionId = decodeURIComponent(match[1]!);
    const index = Number(match[2]);
    const chunks = this.session(sessionId);
    const existing = chunks.get(index);
    if (existing && existing.sha256 !== sha256) return this.problem(res, 409, "a different chunk is stored at this index");
    if (!existing) chunks.set(index, { body, sha256, headers: req.headers, stores: 1 });
    const receipt: ChunkReceipt = { sessionId, index, sha256, size: body.length, receivedAt: new Date().toISOString() };
    res.writeHead(existing ? 200 : 201, { "content-type": "application/json" });
    res.end(JSON.stringify(receipt));
  }
}
