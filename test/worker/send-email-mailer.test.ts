import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SendEmailBindingMailer } from "../../functions/auth/mailer.ts";

const binding = (env as unknown as { TEST_SEND_EMAIL: SendEmail }).TEST_SEND_EMAIL;

describe("SendEmailBindingMailer over a real send_email binding (Miniflare)", () => {
  // Miniflare parses the raw MIME and refuses it unless its From:/To: headers match the envelope,
  // so this checks mimeText() against the binding's own validation.
  it("sends a MIME message the binding accepts", async () => {
    const mailer = new SendEmailBindingMailer(binding, "lucid@example.org");
    await expect(
      mailer.send({ to: "user@example.org", subject: "Your Lucid login link", text: "Log in: https://lucid.test/login/magic#token=x" }),
    ).resolves.toBeUndefined();
  });
});
