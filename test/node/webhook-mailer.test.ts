import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { mimeText, WebhookMailer } from "../../shared/mail.ts";

interface Received {
  headers: IncomingMessage["headers"];
  body: Record<string, string>;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A relay on 127.0.0.1 answering with the given statuses in turn. */
async function relay(statuses: number[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: JSON.parse(data) });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/mail`, received };
}

const mail = { to: "user@example.org", subject: "Your Lucid login link", text: "Log in: https://lucid.test/login/magic#token=x" };

describe("WebhookMailer", () => {
  it("POSTs the mail as JSON with the bearer secret and an idempotency key", async () => {
    const { url, received } = await relay([202]);
    await new WebhookMailer(url, "lucid@example.org", "s".repeat(32), 1).send(mail);
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toMatchObject({ from: "lucid@example.org", ...mail });
    expect(received[0]!.headers.authorization).toBe(`Bearer ${"s".repeat(32)}`);
    expect(received[0]!.headers["idempotency-key"]).toBe(received[0]!.body.id);
  });

  it("retries 5xx under the same idempotency key, then succeeds", async () => {
    const { url, received } = await relay([503, 500, 200]);
    await new WebhookMailer(url, "lucid@example.org", undefined, 1).send(mail);
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    expect(received[0]!.headers.authorization).toBeUndefined();
  });

  it("gives up on a 4xx at once, and after 3 attempts on 5xx", async () => {
    const refused = await relay([400]);
    await expect(new WebhookMailer(refused.url, "lucid@example.org", undefined, 1).send(mail)).rejects.toThrow(/400/);
    expect(refused.received).toHaveLength(1);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const failing = await relay([500]);
    await expect(new WebhookMailer(failing.url, "lucid@example.org", undefined, 1).send(mail)).rejects.toThrow(/500/);
    expect(failing.received).toHaveLength(3);
  });

  it("an unreachable relay is an error, not a hang", async () => {
    await expect(new WebhookMailer("http://127.0.0.1:9/mail", "lucid@example.org", undefined, 1).send(mail)).rejects.toThrow();
  });
});

describe("mimeText (for the send_email binding)", () => {
  it("writes headers without injected line breaks and CRLF line endings", () => {
    const text = mimeText("lucid@example.org", { to: "a@b.c\r\nBcc: evil@x.y", subject: "Hi\nthere", text: "line1\nline2" });
    expect(text).toContain("To: a@b.c Bcc: evil@x.y\r\n");
    expect(text).toContain("Subject: Hi there\r\n");
    expect(text.endsWith("line1\r\nline2")).toBe(true);
  });
});
