/** Payouts: operators see their own requests, admins all, and approve or reject requested ones. */
import { useState } from "preact/hooks";
import { call, getJson } from "../lib/api.ts";
import { formatTime, formatUsdt, short, usdtUnits } from "../lib/format.ts";
import { auth } from "../lib/session.ts";
import type { Payout } from "../lib/types.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";

const STATES = ["requested", "approved", "signed", "broadcast", "confirmed", "failed"];

/** Payments POSTs need an Idempotency-Key; one per button press, so a retry of the same press is safe. */
const idempotencyKey = () => crypto.randomUUID();

export function PayoutsPage() {
  const [state, setState] = useState("");
  const list = useLoad(() => getJson<{ payouts: Payout[] }>(`/payments/payouts?limit=200${state ? `&state=${state}` : ""}`), [state], 15_000);
  const admin = auth.can("ADMIN");
  const decide = useAction(async (id: string, verdict: "approve" | "reject") => {
    const body = verdict === "reject" ? { reason: "rejected from the dashboard" } : {};
    await call(`/payments/payouts/${id}/${verdict}`, { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
    list.reload();
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
    </section>
  );
}
