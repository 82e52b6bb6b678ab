/**
 * Payouts: operators see their own requests, admins all, and approve or reject requested ones.
 * Approving moves money, so it asks for a fresh TOTP or recovery code each time (checked by the server).
 */
import { useState } from "preact/hooks";
import { call, getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, formatUsdt, short, usdtUnits } from "../lib/format.ts";
import { secondFactor } from "../lib/second-factor.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";

const STATES = ["requested", "approved", "signed", "broadcast", "confirmed", "failed"];

export function PayoutsPage() {
  const [state, setState] = useState("");
  const list = useLoad(
    () => getJson<Answer<Api["payments"]["payouts"]["$get"]>>(`/payments/payouts?limit=200${state ? `&state=${state}` : ""}`),
    [state],
    15_000,
  );
  const admin = auth.can("ADMIN");
  const [kycAddress, setKycAddress] = useState("");
  const [kycReason, setKycReason] = useState("");
  const [kycDone, setKycDone] = useState<string | null>(null);
  // Decisions go through the admin routes, which audit the payout before and after.
  const decide = useAction(async (id: string, verdict: "approve" | "reject") => {
    let body: Record<string, string> = {};
    if (verdict === "approve") {
      const code = prompt("Approving sends money: your TOTP or recovery code")?.trim();
      if (!code) return;
      body = secondFactor(code);
    }
    if (verdict === "reject") {
      const reason = prompt("Why is this payout rejected? (recorded in the audit log)")?.trim();
      if (!reason) return;
      body = { reason };
    }
    await call(`/admin/payouts/${id}/${verdict}`, { method: "POST", body });
    list.reload();
  });
  const kyc = useAction(async (verified: boolean) => {
    const flag = await call(`/admin/kyc/${encodeURIComponent(kycAddress.trim())}`, {
      method: "PUT",
      body: { verified, reason: kycReason.trim() },
    });
    const result = (await flag.json()) as { address: string; verified: boolean };
    setKycDone(`${result.address}: KYC ${result.verified ? "verified" : "cleared"}.`);
  });
  const payouts = list.data?.payouts ?? [];
  const total = payouts.reduce((sum, p) => sum + usdtUnits(p.amount), 0n);
  return (
    <section>
      <h1>Payouts</h1>
      <label>
        State
        <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="">any</option>
          {STATES.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      {list.loading && !list.data && <Progress label="Loading payouts…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      <ErrorBox error={decide.error} />
      {list.data && (
        <>
          <p>
            {payouts.length} payouts, {formatUsdt(total)} USDT requested in all.
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Recipient</th>
                <th scope="col">Amount</th>
                <th scope="col">Net</th>
                <th scope="col">State</th>
                <th scope="col">Transaction</th>
                {admin && <th scope="col">Decision</th>}
              </tr>
            </thead>
            <tbody>
              {payouts.map((p) => (
                <tr key={p.id}>
                  <td>{formatTime(p.createdAt)}</td>
                  <td>
                    <code title={p.recipient}>{short(p.recipient, 10)}</code>
                  </td>
                  <td>{p.amount}</td>
                  <td>{p.net}</td>
                  <td>
                    <span class={`state state-${p.state}`}>{p.state}</span>
                    {p.failureReason && <span class="error-text"> {p.failureReason}</span>}
                  </td>
                  <td>{p.txid ? <code title={p.txid}>{short(p.txid, 10)}</code> : "—"}</td>
                  {admin && (
                    <td>
                      {p.state === "requested" && (
                        <>
                          <button type="button" disabled={decide.busy} onClick={() => void decide.run(p.id, "approve")}>
                            Approve
                          </button>{" "}
                          <button type="button" class="danger" disabled={decide.busy} onClick={() => void decide.run(p.id, "reject")}>
                            Reject
                          </button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {admin && (
        <form
          class="panel"
          aria-labelledby="kyc-heading"
          onSubmit={(e) => {
            e.preventDefault();
            void kyc.run(true);
          }}
        >
          <h2 id="kyc-heading">KYC flag</h2>
          <p class="muted">Payouts above the KYC limit need the recipient's flag.</p>
          <label>
            Recipient address
            <input
              name="kycAddress"
              required
              spellcheck={false}
              value={kycAddress}
              onInput={(e) => setKycAddress(e.currentTarget.value)}
              placeholder="T…"
            />
          </label>
          <label>
            Reason (audited)
            <input name="kycReason" required minLength={3} value={kycReason} onInput={(e) => setKycReason(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={kyc.busy}>
            Mark verified
          </button>{" "}
          <button type="button" class="danger" disabled={kyc.busy} onClick={() => void kyc.run(false)}>
            Clear
          </button>
          <ErrorBox error={kyc.error} />
          {kycDone && !kyc.error && (
            <p role="status" class="ok">
              {kycDone}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
