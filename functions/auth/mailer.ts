import type { Config } from "../../shared/config.ts";
import type { Env } from "../../shared/env.ts";
import { callDurableObject } from "../do-call.ts";

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

  constructor(
    private readonly url: string,
    private readonly from: string,
    private readonly secret?: string,
    private readonly backoffMs = 250,
  ) {}

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

/** Cloudflare Email Routing's `send_email` binding (only on Cloudflare). */
export class SendEmailBindingMailer implements Mailer {
  readonly kind = "send-email";

  constructor(
    private readonly binding: SendEmail,
    private readonly from: string,
  ) {}

  async send(mail: Mail): Promise<void> {
    const { EmailMessage } = await import("cloudflare:email");
    await this.binding.send(new EmailMessage(this.from, mail.to, mimeText(this.from, mail)));
  }
}

/** Keeps mail in MailOutboxDO for `npm start` and tests; an ADMIN reads it at GET /api/v1/auth/outbox. */
export class DevOutboxMailer implements Mailer {
  readonly kind = "dev-outbox";

  constructor(private readonly env: Env) {}

  async send(mail: Mail): Promise<void> {
    await callDurableObject("MailOutboxDO", "put", () => this.env.MAIL_OUTBOX.get(this.env.MAIL_OUTBOX.idFromName("outbox")).put(mail));
  }
}

export function devOutboxEnabled(config: Config): boolean {
  return config.MAIL_DEV_OUTBOX === "true" || (config.MAIL_DEV_OUTBOX === "auto" && config.LUCID_ENV !== "production");
}

/** The configured mailer: a webhook if MAIL_WEBHOOK_URL is set, else send_email, else the dev outbox; null if none. */
export function mailerFor(env: Env, config: Config): Mailer | null {
  if (config.MAIL_WEBHOOK_URL) return new WebhookMailer(config.MAIL_WEBHOOK_URL, config.MAIL_FROM, config.MAIL_WEBHOOK_SECRET);
  if (env.SEND_EMAIL) return new SendEmailBindingMailer(env.SEND_EMAIL, config.MAIL_FROM);
  if (devOutboxEnabled(config)) return new DevOutboxMailer(env);
  return null;
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
