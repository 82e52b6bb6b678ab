/** Overview: small plots of node uptime, ingest, chain growth and payouts, from the live API. */
import { call, getJson, type Answer, type Api } from "../lib/api.ts";
import { formatBytes, formatTime, formatUsdt, shortDate, shortTime, usdtUnits } from "../lib/format.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Plot, type Point } from "../components/plot.tsx";
import type { Manifest } from "../lib/playback.ts";

/** Average uptime ratio per epoch over the operator's (or every) node; the 10 most recent nodes. */
async function nodeUptime(): Promise<Point[]> {
  const { nodes } = await getJson<Answer<Api["nodes"]["$get"]>>("/nodes");
  const details = await Promise.all(
    nodes.slice(0, 10).map((n) => getJson<Answer<Api["nodes"][":id"]["$get"]>>(`/nodes/${n.id}`).catch(() => ({ epochs: [] }))),
  );
  const byEpoch = new Map<number, { sum: number; n: number; start: number }>();
  for (const { epochs } of details) {
    for (const e of epochs) {
      const entry = byEpoch.get(e.epoch) ?? { sum: 0, n: 0, start: Date.parse(e.start) };
      entry.sum += e.uptimeRatio;
      entry.n++;
      byEpoch.set(e.epoch, entry);
    }
  }
  return [...byEpoch.values()].sort((a, b) => a.start - b.start).map((e) => ({ x: e.start, y: (e.sum / e.n) * 100 }));
}

/** Bytes recorded per hour, from the chunk capture times in the newest sessions' manifests. */
async function ingestRate(): Promise<Point[]> {
  const { items } = await getJson<Answer<Api["sessions"]["$get"]>>("/sessions?limit=20");
  const finished = items.filter((s) => !["created", "recording", "failed", "cancelled"].includes(s.state));
  const manifests = await Promise.all(finished.map((s) => getJson<Manifest>(`/sessions/${s.id}/manifest`).catch(() => null)));
  const perHour = new Map<number, number>();
  for (const manifest of manifests) {
    for (const chunk of manifest?.chunks ?? []) {
      const hour = Math.floor(chunk.captureEnd / 3_600_000) * 3_600_000;
      perHour.set(hour, (perHour.get(hour) ?? 0) + chunk.size);
    }
  }
  return [...perHour.entries()].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
}

/** Chain height over time for the latest 100 blocks. */
async function chainGrowth(): Promise<Point[]> {
  const stats = await getJson<Answer<Api["chain"]["stats"]["$get"]>>("/chain/stats");
  const from = Math.max(0, stats.height - 99);
  const { blocks } = await getJson<Answer<Api["chain"]["blocks"]["$get"]>>(`/chain/blocks?from=${from}&limit=100`);
  // Genesis carries the configured genesis time (often long ago): it would flatten the plot.
  const produced = blocks.filter((b) => b.header.height > 0);
  return (produced.length ? produced : blocks).map((b) => ({ x: b.header.timestamp, y: b.header.height }));
}

/** Confirmed USDT paid out, cumulative, in base units (plotted in USDT). */
async function payoutsOverTime(): Promise<{ points: Point[]; total: bigint; pending: number }> {
  const { payouts } = await getJson<Answer<Api["payments"]["payouts"]["$get"]>>("/payments/payouts?limit=500");
  const confirmed = payouts.filter((p) => p.state === "confirmed").sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt));
  let total = 0n;
  const points = confirmed.map((p) => {
    total += usdtUnits(p.net);
    return { x: Date.parse(p.updatedAt), y: Number(total) / 1e6 };
  });
  return { points, total, pending: payouts.filter((p) => !["confirmed", "failed"].includes(p.state)).length };
}

function Panel<T>({
  title,
  load,
  deps,
  children,
}: {
  title: string;
  load: () => Promise<T>;
  deps: unknown[];
  children: (data: T) => preact.JSX.Element;
}) {
  const state = useLoad(load, deps, 30_000);
  return (
    <section class="panel" aria-busy={state.loading}>
      <h2>{title}</h2>
      {state.data !== undefined ? children(state.data) : state.loading ? <Progress label={`Loading ${title.toLowerCase()}…`} /> : null}
      <ErrorBox error={state.error} onRetry={state.reload} />
    </section>
  );
}

type AdminOverview = Answer<Api["admin"]["overview"]["$get"]>;

const counts = (byState: Record<string, number>) =>
  Object.entries(byState)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ") || "none";

/** ADMIN+: alerts from health checks and monitors, and the state of every function at a glance. */
function Operations() {
  const overview = useLoad(() => getJson<AdminOverview>("/admin/overview"), [], 15_000);
  const act = useAction(async (id: string, action: "acknowledge" | "resolve") => {
    await call(`/admin/alerts/${id}/${action}`, { method: "POST" });
    overview.reload();
  });
  const o = overview.data;
  return (
    <section class="panel" aria-labelledby="ops-heading">
      <h2 id="ops-heading">Operations</h2>
      <ErrorBox error={overview.error ?? act.error} onRetry={overview.reload} />
      {o && (
        <>
          <dl class="facts">
            <dt>Emergency</dt>
            <dd>
              {[
                o.emergency.lockdown && "lockdown",
                o.emergency.recordingsHalted && "recordings halted",
                o.emergency.sessionsShutdown && "new sessions shut down",
              ]
                .filter(Boolean)
                .join(", ") || "no control active"}
            </dd>
            <dt>Nodes</dt>
            <dd>
              {o.nodes.total} ({counts(o.nodes.byState)})
            </dd>
            <dt>Payouts</dt>
            <dd>{counts(o.payouts.byState)}</dd>
            <dt>Audit log</dt>
            <dd>
              {o.chain.audit.events} events; last anchored event {o.chain.audit.lastAnchoredEventId ?? "—"}
              {o.chain.audit.lastAnchorHeight !== null && ` in block ${o.chain.audit.lastAnchorHeight}`}
            </dd>
          </dl>
          <h3>Alerts ({o.alerts.open} open)</h3>
          {o.alerts.latest.length === 0 ? (
            <p class="muted">No alerts.</p>
          ) : (
            <ul class="events">
              {o.alerts.latest.map((a) => (
                <li>
                  <span class={`state ${a.severity === "critical" ? "state-failed" : ""}`}>{a.severity}</span> <strong>{a.title}</strong>{" "}
                  <span class="muted">
                    {a.source}, {a.state}, ×{a.count}, last {formatTime(a.lastAt)}
                  </span>{" "}
                  {a.state === "open" && (
                    <button type="button" disabled={act.busy} onClick={() => void act.run(a.id, "acknowledge")}>
                      Acknowledge
                    </button>
                  )}{" "}
                  {a.state !== "resolved" && (
                    <button type="button" disabled={act.busy} onClick={() => void act.run(a.id, "resolve")}>
                      Resolve
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

export function OverviewPage() {
  const operator = auth.can("NODE_OPERATOR");
  return (
    <section>
      <h1>Overview</h1>
      {auth.can("ADMIN") && <Operations />}
      <div class="grid">
        {operator && (
          <Panel title="Node uptime" load={nodeUptime} deps={[]}>
            {(points) => (
              <Plot
                title="Average uptime per epoch (%)"
                points={points}
                formatX={shortTime}
                formatY={(y) => `${y.toFixed(0)} %`}
                empty="No closed epochs yet."
              />
            )}
          </Panel>
        )}
        <Panel title="Ingest" load={ingestRate} deps={[]}>
          {(points) => (
            <Plot
              kind="bar"
              title="Recorded per hour (newest sessions)"
              points={points}
              formatX={shortDate}
              formatY={formatBytes}
              empty="No stored recordings yet."
            />
          )}
        </Panel>
        <Panel title="Chain growth" load={chainGrowth} deps={[]}>
          {(points) => (
            <Plot
              title="Block height"
              points={points}
              formatX={shortTime}
              formatY={(y) => String(Math.round(y))}
              empty="Only the genesis block so far."
            />
          )}
        </Panel>
        <Panel title="Payouts" load={payoutsOverTime} deps={[]}>
          {({ points, total, pending }) => (
            <div>
              <Plot
                title="Confirmed USDT paid, cumulative"
                points={points}
                formatX={shortDate}
                formatY={(y) => y.toFixed(2)}
                empty="No confirmed payouts yet."
              />
              <p>
                Total confirmed: <strong>{formatUsdt(total)} USDT</strong> · in progress: {pending}
              </p>
            </div>
          )}
        </Panel>
      </div>
    </section>
  );
}
