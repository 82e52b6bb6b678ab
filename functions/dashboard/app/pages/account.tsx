/** Account: who am I, two-factor status and enrolment (ADMIN+ need it for their full powers). */
import { useState } from "preact/hooks";
import { getJson, postJson, type Answer, type Api, type Body } from "../lib/api.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, useAction, useLoad } from "../components/feedback.tsx";

export function AccountPage() {
  const tokens = auth.current()!;
  const status = useLoad(() => getJson<Answer<Api["auth"]["totp"]["$get"]>>("/auth/totp"), []);
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const enrol = useAction(async () => setEnrolment(await postJson<Answer<Api["auth"]["totp"]["enrol"]["$post"]>>("/auth/totp/enrol", {})));
  const confirm = useAction(async () => {
    const result = await postJson<Answer<Api["auth"]["totp"]["confirm"]["$post"]>>("/auth/totp/confirm", {
      code: code.trim(),
    } satisfies Body<Api["auth"]["totp"]["confirm"]["$post"]>);
    setRecovery(result.recoveryCodes);
    setEnrolment(null);
    status.reload();
  });
  return (
    <section>
      <h1>Account</h1>
      <dl class="facts">
        <dt>User</dt>
        <dd>{tokens.user.id}</dd>
        <dt>TRON address</dt>
        <dd>{tokens.user.tronAddress ?? "—"}</dd>
        <dt>Role</dt>
        <dd>
          {tokens.user.role}
          {tokens.effectiveRole !== tokens.user.role && ` (acting as ${tokens.effectiveRole} until two-factor enrolment)`}
        </dd>
        <dt>Two-factor</dt>
        <dd>{status.data ? (status.data.enrolled ? "enrolled" : "not enrolled") : "…"}</dd>
      </dl>
      <ErrorBox error={status.error} onRetry={status.reload} />
      {status.data && !status.data.enrolled && !enrolment && !recovery && (
        <button type="button" disabled={enrol.busy} onClick={() => void enrol.run()}>
          Enrol an authenticator app
        </button>
      )}
      <ErrorBox error={enrol.error} />
      {enrolment && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void confirm.run();
          }}
        >
          <p>Add this secret to your authenticator app (or open the link on the device), then enter its current code.</p>
          <p>
            Secret <code>{enrolment.secret}</code> · <a href={enrolment.otpauthUri}>otpauth link</a>
          </p>
          <label>
            Code
            <input
              name="code"
              required
              inputMode="numeric"
              pattern="\d{6}"
              autoComplete="one-time-code"
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={confirm.busy}>
            Confirm
          </button>
          <ErrorBox error={confirm.error} />
        </form>
      )}
      {recovery && (
        <div role="status" class="ok">
          <p>
            Enrolled. Keep these one-time recovery codes somewhere safe; they are shown only now. Sign out and in again (with a code) for
            your full role.
          </p>
          <ul class="codes">
            {recovery.map((c) => (
              <li>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
