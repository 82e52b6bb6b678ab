/**
 * RDP desktops per host (NODE_OPERATOR+: the hosts one operates; admins all): each host's agent
 * channel, its servers' state and connected user, and CPU and memory over time from the
 * agent's resource reports (kept a day by the host).
 */
import { useState } from "preact/hooks";
import { getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, short, shortTime } from "../lib/format.ts";
import { ErrorBox, Progress, useLoad } from "../components/feedback.tsx";
import { Plot } from "../components/plot.tsx";
import { Columns } from "../components/table.tsx";

type Server = Answer<Api["rdp"]["servers"]["$get"]>["servers"][number];
type Host = Answer<Api["rdp"]["hosts"][":hostId"]["$get"]>;
type History = Answer<Api["rdp"]["hosts"][":hostId"]["servers"][":serverId"]["reports"]["$get"]>;

export function DesktopsPage() {
  const [liveOnly, setLiveOnly] = useState(true);
  const list = useLoad(() => getJson<Answer<Api["rdp"]["servers"]["$get"]>>(`/rdp/servers?live=${liveOnly}`), [liveOnly], 10_000);
  const byHost = new Map<string, Server[]>();
  for (const s of list.data?.servers ?? []) byHost.set(s.hostId, [...(byHost.get(s.hostId) ?? []), s]);
  return (
    <section>
      <h1>RDP desktops</h1>
      <label class="inline">
        <input type="checkbox" checked={liveOnly} onChange={(e) => setLiveOnly(e.currentTarget.checked)} /> Only live desktops
      </label>
      {list.loading && !list.data && <Progress label="Loading desktops…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && byHost.size === 0 && <p class="muted">No {liveOnly ? "live " : ""}desktops on your hosts.</p>}
      {[...byHost].map(([hostId, servers]) => (
        <HostPanel key={hostId} hostId={hostId} servers={servers} />
      ))}
    </section>
  );
}

function HostPanel({ hostId, servers }: { hostId: string; servers: Server[] }) {
  const status = useLoad(() => getJson<Host>(`/rdp/hosts/${hostId}`), [hostId], 10_000);
  const [open, setOpen] = useState<string | null>(null);
  const h = status.data;
  const id = `host-${hostId}`;
  return (
    <div class="panel" role="region" aria-labelledby={id} data-host={hostId}>
      <h2 id={id}>
        Host <code title={hostId}>{short(hostId, 14)}</code>{" "}
        {h && (
          <span class={`state ${h.connected ? "state-active" : "state-offline"}`}>{h.connected ? "agent connected" : "agent offline"}</span>
        )}
      </h2>
      <ErrorBox error={status.error} onRetry={status.reload} />
      {h && (
        <p class="muted">
          {h.address ?? "no address advertised"} · agent {h.agentVersion ?? "—"} · last seen {formatTime(h.lastSeenAt)} · {h.serversLive}{" "}
          live, {h.pendingCommands} commands pending
        </p>
      )}
      <table>
        <Columns names={["Desktop", "State", "Connected user", "CPU / memory (last report)", "Started", "Resources"]} />
        <tbody>
          {servers.map((s) => (
            <tr data-server={s.id}>
              <td title={s.id}>
                {short(s.id, 12)} <span class="muted">:{s.port ?? "—"}</span>
              </td>
              <td>
                <span class={`state state-${s.state === "running" ? "active" : s.state}`}>{s.state}</span>
                {s.connection && <span class="muted"> · {s.connection}</span>}
                {s.endReason && <span class="error-text"> {s.endReason}</span>}
              </td>
              <td>
                <span title={s.ownerId}>{short(s.ownerId, 10)}</span> <span class="muted">as {s.config.user}</span>
              </td>
              <td data-testid="last-report">
                {s.lastReport
                  ? `${s.lastReport.cpuPercent} % of ${s.limits.cpuSharePercent} % · ${s.lastReport.memoryMb} of ${s.limits.memoryMb} MB`
                  : "—"}
              </td>
              <td>{formatTime(s.startedAt)}</td>
              <td>
                <button type="button" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
                  {open === s.id ? "Hide plots" : "Plot"}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && <ResourcePlots server={servers.find((s) => s.id === open)!} />}
    </div>
  );
}

const WINDOWS = [15, 60, 360, 1440];

function ResourcePlots({ server }: { server: Server }) {
  const [minutes, setMinutes] = useState(60);
  const history = useLoad(
    () => getJson<History>(`/rdp/hosts/${server.hostId}/servers/${server.id}/reports?minutes=${minutes}`),
    [server.id, minutes],
    15_000,
  );
  const reports = history.data?.reports ?? [];
  const points = (pick: (r: History["reports"][number]) => number) => reports.map((r) => ({ x: Date.parse(r.at), y: pick(r) }));
  return (
    <div data-testid="resource-plots">
      <h3>
        Resources of <code>{short(server.id, 12)}</code>
      </h3>
      <label>
        Window
        <select value={String(minutes)} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
          {WINDOWS.map((m) => (
            <option value={String(m)}>{m < 60 ? `${m} minutes` : `${m / 60} hours`}</option>
          ))}
        </select>
      </label>
      <ErrorBox error={history.error} onRetry={history.reload} />
      {history.loading && !history.data && <Progress label="Loading resource reports…" />}
      {history.data && (
        <div class="grid">
          <Plot
            title={`CPU % (limit ${server.limits.cpuSharePercent} %)`}
            points={points((r) => r.cpuPercent)}
            formatX={shortTime}
            formatY={(y) => `${y} %`}
            empty="No reports in this window."
          />
          <Plot
            title={`Memory MB (limit ${server.limits.memoryMb} MB)`}
            points={points((r) => r.memoryMb)}
            formatX={shortTime}
            formatY={(y) => `${y} MB`}
            empty="No reports in this window."
          />
        </div>
      )}
    </div>
  );
}
