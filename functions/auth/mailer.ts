import type { Config } from "../../shared/config.ts";
import type { Env } from "../../platform/env.ts";
import { mimeText, WebhookMailer, type Mail, type Mailer } from "../../shared/mail.ts";
import { callDurableObject } from "../do-call.ts";
import { singleton } from "../../platform/objects.ts";

export { mimeText, WebhookMailer, type Mail, type Mailer };

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
    await callDurableObject("MailOutboxDO", "put", () => singleton(this.env, "MAIL_OUTBOX").put(mail));
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
