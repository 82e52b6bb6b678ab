/**
 * Lucid's outgoing mail (magic links): the Mailer interface, the webhook mailer for self-hosted
 * relays, and the MIME text the send_email binding takes. Web-standard APIs only (fetch,
 * AbortSignal), so it runs in the Worker and under Node alike; the Worker-only mailers
 * (send_email binding, dev outbox) are in functions/auth/mailer.ts.
 */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Where Lucid's mail (magic links) goes. One implementation per delivery path. */
export interface Mailer {
  readonly kind: "webhook" | "send-email" | "dev-outbox";
  send(mail: Mail): Promise<void>;
}

const WEBHOOK_TIMEOUT_MS = 5_000;
const WEBHOOK_ATTEMPTS = 3;

/**
 * POSTs `{ id, from, to, subject, text }` as JSON to a self-hosted relay. Each attempt has a
 * timeout; 5xx and network errors are retried with back-off under one Idempotency-Key, so
 * a relay that saw an attempt can drop the repeat. `Authorization: Bearer <secret>` if set.
 */
export class WebhookMailer implements Mailer {
  readonly kind = "webhook";

  private readonly url: string;
  private readonly from: string;
  private readonly secret: string | undefined;
  private readonly backoffMs: number;

  constructor(url: string, from: string, secret?: string, backoffMs = 250) {
    this.url = url;
    this.from = from;
    this.secret = secret;
    this.backoffMs = backoffMs;
  }

  async send(mail: Mail): Promise<void> {
    const id = crypto.randomUUID();
    const headers: Record<string, string> = { "Content-Type": "application/json", "Idempotency-Key": id };
    if (this.secret) headers.Authorization = `Bearer ${this.secret}`;
    const body = JSON.stringify({ id, from: this.from, ...mail });
    let lastError: unknown;
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      try {
        const res = await fetch(this.url, { method: "POST", headers, body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
        await res.body?.cancel();
        if (res.ok) return;
        lastError = new Error(`mail webhook answered ${res.status}`);
        if (res.status < 500 && res.status !== 429) break; // the relay refused this mail: retrying will not help
      } catch (error) {
        lastError = error;
      }
      if (attempt < WEBHOOK_ATTEMPTS) await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** (attempt - 1)));
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }
}

/** A minimal RFC 5322 text/plain message (the binding takes raw MIME). */
export function mimeText(from: string, mail: Mail): string {
  const clean = (value: string) => value.replace(/[\r\n]+/g, " ");
  return [
    `From: ${clean(from)}`,
    `To: ${clean(mail.to)}`,
    `Subject: ${clean(mail.subject)}`,
    `Message-ID: <${crypto.randomUUID()}@lucid>`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    mail.text.replace(/\r?\n/g, "\r\n"),
  ].join("\r\n");
}
