/** Nodes: an operator's own (admins see all), state, uptime and earnings; admins suspend/reinstate. */
import { useState } from "preact/hooks";
import { call, getJson, type Answer, type Api } from "../lib/api.ts";
import { formatDuration, formatTime, short } from "../lib/format.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Plot } from "../components/plot.tsx";
import { Columns } from "../components/table.tsx";

export function NodesPage() {
  const nodes = useLoad(() => getJson<Answer<Api["nodes"]["$get"]>>("/nodes"), [], 15_000);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section>
      <h1>Nodes</h1>
      {nodes.loading && !nodes.data && <Progress label="Loading nodes…" />}
      <ErrorBox error={nodes.error} onRetry={nodes.reload} />
      {nodes.data && nodes.data.nodes.length === 0 && <p class="muted">No nodes registered{auth.can("ADMIN") ? "" : " by you"} yet.</p>}
      {nodes.data && nodes.data.nodes.length > 0 && (
        <table>
          <Columns names={["Node", "State", "Last heartbeat", "Operational", "Credits", "Accrued USDT", "Details"]} />
          <tbody>
            {nodes.data.nodes.map((n) => (
              <tr key={n.id}>
                <td title={n.id}>
                  {short(n.id, 14)} <span class="muted">{n.pool}</span>
                </td>
                <td>
                  <span class={`state state-${n.state}`}>{n.state}</span>
                </td>
                <td>{formatTime(n.lastHeartbeatAt)}</td>
                <td>{formatDuration(n.operationalSeconds)}</td>
                <td>{n.credits}</td>
                <td>{n.accrued}</td>
                <td>
                  <button type="button" aria-expanded={open === n.id} onClick={() => setOpen(open === n.id ? null : n.id)}>
                    {open === n.id ? "Hide" : "Show"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <NodeDetail id={open} onChanged={nodes.reload} />}
    </section>
  );
}

function NodeDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const detail = useLoad(() => getJson<Answer<Api["nodes"][":id"]["$get"]>>(`/nodes/${id}`), [id]);
  const [reason, setReason] = useState("");
  // The admin routes audit the change with the node's state before and after.
  const suspend = useAction(async (suspended: boolean) => {
    await call(`/admin/nodes/${id}/${suspended ? "suspend" : "reinstate"}`, { method: "POST", body: { reason: reason.trim() } });
    detail.reload();
    onChanged();
  });
  const d = detail.data;
  return (
    <section class="panel" aria-labelledby="node-detail">
      <h2 id="node-detail">Node {id}</h2>
      <ErrorBox error={detail.error} onRetry={detail.reload} />
      {d && (
        <>
          <Plot
            title="Uptime per epoch (%)"
            points={d.epochs.map((e) => ({ x: Date.parse(e.start), y: e.uptimeRatio * 100 }))}
            formatX={(x) => new Date(x).toISOString().slice(11, 16)}
            formatY={(y) => `${y.toFixed(0)} %`}
            empty="No closed epochs yet."
          />
          <p>
            Payout address <code>{d.node.payoutAddress}</code>
          </p>
          <h3>State changes</h3>
          <ol class="events">
            {d.events.map((e) => (
              <li>
                {formatTime(e.at)} {e.from ?? "—"} → {e.to} <span class="muted">({e.reason})</span>
              </li>
            ))}
          </ol>
          {auth.can("ADMIN") && (
            <form onSubmit={(e) => e.preventDefault()}>
              <label>
                Reason (audited)
                <input
                  name="reason"
                  required
                  minLength={3}
                  maxLength={500}
                  value={reason}
                  onInput={(e) => setReason(e.currentTarget.value)}
                />
              </label>
              {d.node.state === "suspended" ? (
                <button type="button" disabled={suspend.busy} onClick={() => void suspend.run(false)}>
                  Reinstate
                </button>
              ) : (
                <button type="button" class="danger" disabled={suspend.busy} onClick={() => void suspend.run(true)}>
                  Suspend
                </button>
              )}
              <ErrorBox error={suspend.error} />
            </form>
          )}
        </>
      )}
    </section>
  );
}
