/**
 * Alerts (ADMIN+): open ones to act on, acknowledged ones someone is handling, and the history
 * of resolved ones, with how many were raised per day. Acknowledge and resolve are audited by
 * the server. Every call goes through lib/alerts.ts.
 */
import { useState } from "preact/hooks";
import { acknowledgeAlert, listAlerts, resolveAlert, type Alert, type AlertState } from "../lib/alerts.ts";
import { formatTime, short, shortDate } from "../lib/format.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Plot } from "../components/plot.tsx";

const DAY_MS = 86_400_000;

const SECTIONS: { state: AlertState; title: string; empty: string }[] = [
  { state: "open", title: "Open", empty: "No open alerts." },
  { state: "acknowledged", title: "Acknowledged", empty: "No acknowledged alerts." },
  { state: "resolved", title: "History (resolved)", empty: "No resolved alerts yet." },
];

export function AlertsPage() {
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  return (
    <section>
      <h1>Alerts</h1>
      {SECTIONS.map((s) => (
        <AlertSection key={s.state} {...s} version={version} onChanged={changed} />
      ))}
    </section>
  );
}

function AlertSection({
  state,
  title,
  empty,
  version,
  onChanged,
}: {
  state: AlertState;
  title: string;
  empty: string;
  version: number;
  onChanged: () => void;
}) {
  const [pages, setPages] = useState<string[]>([]);
  const before = pages[pages.length - 1];
  const list = useLoad(() => listAlerts(state, { before }), [state, before, version], 15_000);
  const act = useAction(async (id: string, action: "acknowledge" | "resolve") => {
    await (action === "acknowledge" ? acknowledgeAlert(id) : resolveAlert(id));
    onChanged();
  });
  const items = list.data?.items ?? [];
  const id = `alerts-${state}`;
  return (
    <div class="panel" role="region" aria-labelledby={id} data-testid={id}>
      <h2 id={id}>
        {title}{" "}
        {list.data && (
          <span class="muted">
            ({items.length}
            {items.length === 50 ? "+" : ""})
          </span>
        )}
      </h2>
      {list.loading && !list.data && <Progress label={`Loading ${state} alerts…`} />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      <ErrorBox error={act.error} />
      {state === "resolved" && items.length > 0 && <PerDay alerts={items} />}
      {list.data && items.length === 0 && <p class="muted">{empty}</p>}
      {items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Alert</th>
              <th scope="col">Source</th>
              <th scope="col">Seen</th>
              <th scope="col">{state === "open" ? "Action" : state === "acknowledged" ? "Acknowledged" : "Resolved"}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <AlertRow alert={a} busy={act.busy} onAct={(action) => void act.run(a.id, action)} />
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        {pages.length > 0 && (
          <button type="button" onClick={() => setPages(pages.slice(0, -1))}>
            Newer
          </button>
        )}
        {items.length === 50 && (
          <button type="button" onClick={() => setPages([...pages, items[items.length - 1]!.lastAt])}>
            Older
          </button>
        )}
      </div>
    </div>
  );
}

function AlertRow({ alert: a, busy, onAct }: { alert: Alert; busy: boolean; onAct: (action: "acknowledge" | "resolve") => void }) {
  return (
    <tr data-alert={a.key} class={a.severity === "critical" ? "severity-critical" : undefined}>
      <td>
        <span class={`state state-${a.severity === "info" ? "active" : "failed"}`}>{a.severity}</span>
      </td>
      <td>
        <strong>{a.title}</strong>
        {a.detail && <p class="muted">{a.detail}</p>}
        <code class="muted" title={a.id}>
          {a.key}
        </code>
      </td>
      <td>{a.source}</td>
      <td>
        {a.count}× · first {formatTime(a.firstAt)} · last {formatTime(a.lastAt)}
      </td>
      <td>
        {a.state === "acknowledged" && (
          <p data-testid="acknowledged-by">
            {formatTime(a.acknowledgedAt)} by <code title={a.acknowledgedBy ?? ""}>{short(a.acknowledgedBy ?? "—")}</code>
          </p>
        )}
        {a.state === "resolved" && (
          <p data-testid="resolved-by">
            {formatTime(a.resolvedAt)} by <code title={a.resolvedBy ?? ""}>{a.resolvedBy ? short(a.resolvedBy) : "the system"}</code>
          </p>
        )}
        {a.state === "open" && (
          <button type="button" disabled={busy} onClick={() => onAct("acknowledge")}>
            Acknowledge
          </button>
        )}{" "}
        {a.state !== "resolved" && (
          <button type="button" disabled={busy} onClick={() => onAct("resolve")}>
            Resolve
          </button>
        )}
      </td>
    </tr>
  );
}

/** Resolved alerts (the loaded page) per day they were first raised, over the last 14 days, as bars. */
function PerDay({ alerts }: { alerts: Alert[] }) {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const days = Array.from({ length: 14 }, (_, i) => today - (13 - i) * DAY_MS);
  const counts = new Map(days.map((d) => [d, 0]));
  for (const a of alerts) {
    const day = Math.floor(Date.parse(a.firstAt) / DAY_MS) * DAY_MS;
    if (counts.has(day)) counts.set(day, counts.get(day)! + 1);
  }
  const points = days.map((x) => ({ x, y: counts.get(x)! }));
  return (
    <div class="grid">
      <Plot title="Resolved alerts per day raised (14 days)" points={points} kind="bar" formatX={shortDate} />
    </div>
  );
}
