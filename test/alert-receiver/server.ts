// A webhook receiver on 127.0.0.1, as an operator's would be: it verifies each delivery's
// X-Lucid-Signature (HMAC-SHA256 over "<timestamp>.<body>", shared/alert-rules.ts verifyWebhook,
// the same steps docs/admin.md gives), refuses bad ones with 401, and keeps what it accepted.
// Control API under /__receiver/ (tests in workerd cannot open servers; they talk to this one).
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhook } from "../../shared/alert-rules.ts";

export interface Received {
  delivery: string;
  event: string;
  signature: string;
  body: Record<string, any>;
}

export interface Receiver {
  url: string;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });

export async function startAlertReceiver(secret: string): Promise<Receiver> {
  const accepted: Received[] = [];
  /** Deliveries refused (signature) and deliveries failed on purpose, for assertions. */
  const refused: { reason: string; body: string }[] = [];
  /** "Fail the next N deliveries whose body contains `match`" (test files share one receiver). */
  const failures: { match: string; times: number; status: number }[] = [];

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/__receiver/fail") {
      const { match, times, status } = JSON.parse(body) as { match: string; times: number; status?: number };
      failures.push({ match, times, status: status ?? 503 });
      return send(200, { ok: true });
    }
    if (path === "/__receiver/received") {
      const { match } = JSON.parse(body) as { match: string };
      return send(200, {
        accepted: accepted.filter((r) => JSON.stringify(r.body).includes(match)),
        refused: refused.filter((r) => r.body.includes(match)),
      });
    }
    if (path !== "/hook" || req.method !== "POST") return send(404, { error: "not found" });
    const signature = String(req.headers["x-lucid-signature"] ?? "");
    if (!(await verifyWebhook(secret, signature, body, Math.floor(Date.now() / 1000)))) {
      refused.push({ reason: "bad signature", body });
      return send(401, { error: "bad signature" });
    }
    const failure = failures.find((f) => f.times > 0 && body.includes(f.match));
    if (failure) {
      failure.times -= 1;
      refused.push({ reason: `failing on purpose (${failure.status})`, body });
      return send(failure.status, { error: "try again later" });
    }
    accepted.push({
      delivery: String(req.headers["x-lucid-delivery"]),
      event: String(req.headers["x-lucid-event"]),
      signature,
      body: JSON.parse(body),
    });
    send(200, { ok: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
