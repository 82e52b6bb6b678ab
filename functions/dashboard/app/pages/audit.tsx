/**
 * Audit log (ADMIN+): full-text search and filters over every auth event and admin action,
 * each event's before/after, the server's hash-chain check, and an export verified in this
 * browser with shared/audit.ts (hash chain and the chain anchors' proofs).
 */
import { useState } from "preact/hooks";
import { verifyAuditExport, type AuditExportBundle } from "../../../../shared/audit.ts";
import { getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, short } from "../lib/format.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Columns, Pager } from "../components/table.tsx";

type AuditPage = Answer<Api["admin"]["audit"]["$get"]>;
type VerifyReport = Answer<Api["admin"]["audit"]["verify"]["$get"]>;
type StoreChecks = Answer<Api["admin"]["integrity"]["$get"]>;

interface Filters {
  q: string;
  action: string;
  outcome: string;
  actorId: string;
}

const EMPTY: Filters = { q: "", action: "", outcome: "", actorId: "" };

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [pages, setPages] = useState<number[]>([]);
  const [open, setOpen] = useState<number | null>(null);
  const before = pages[pages.length - 1];
  const list = useLoad(() => {
    const params = new URLSearchParams({ limit: "50" });
    for (const [name, value] of Object.entries(filters)) if (value.trim()) params.set(name, value.trim());
    if (before) params.set("before", String(before));
    return getJson<AuditPage>(`/admin/audit?${params}`);
  }, [filters, before]);
  const field = (name: keyof Filters) => ({
    value: draft[name],
    onInput: (e: Event) => setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value }),
  });
  return (
    <section>
      <h1>Audit log</h1>
      <ChainChecks />
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setPages([]);
          setFilters(draft);
        }}
      >
        <label>
          Text
          <input type="search" name="q" {...field("q")} placeholder="words in any field" />
        </label>
        <label>
          Action
          <input name="action" {...field("action")} placeholder="emergency.* or auth.login" />
        </label>
        <label>
          Actor
          <input name="actorId" {...field("actorId")} />
        </label>
        <label>
          Outcome
          <select name="outcome" value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.currentTarget.value })}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {list.loading && !list.data && <Progress label="Loading the audit log…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && (
        <>
          <table>
            <Columns names={["#", "Time", "Action", "Outcome", "Actor", "Target", "Details"]} />
            <tbody>
              {list.data.items.map((e) => (
                <>
                  <tr key={e.id} data-action={e.action}>
                    <td>{e.id}</td>
                    <td>{formatTime(e.at)}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td class={e.outcome === "failure" ? "error-text" : undefined}>{e.outcome}</td>
                    <td title={e.actorId ?? undefined}>{e.actorId ? short(e.actorId) : "—"}</td>
                    <td title={e.targetId ?? undefined}>{e.targetId ? short(e.targetId, 14) : "—"}</td>
                    <td>
                      <button type="button" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                        {open === e.id ? "Hide" : "Show"}
                      </button>
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr>
                      <td colSpan={7}>
                        <dl class="facts">
                          <dt>Request</dt>
                          <dd>
                            <code>{e.requestId ?? "—"}</code> from {e.ip ?? "—"}
                          </dd>
                          <dt>Details</dt>
                          <dd>
                            <code>{JSON.stringify(e.details)}</code>
                          </dd>
                          <dt>Before</dt>
                          <dd>
                            <code>{JSON.stringify(e.before)}</code>
                          </dd>
                          <dt>After</dt>
                          <dd>
                            <code>{JSON.stringify(e.after)}</code>
                          </dd>
                          <dt>Hash</dt>
                          <dd>
                            <code>{e.hash}</code>
                          </dd>
                        </dl>
                      </td>
                    </tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
          {list.data.items.length === 0 && <p class="muted">No events match.</p>}
          <Pager stack={pages} onChange={setPages} next={list.data.nextBefore} />
        </>
      )}
    </section>
  );
}

/** The server's chain check, and an export checked here, page by page with progress. */
function ChainChecks() {
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [local, setLocal] = useState<{ events: number; anchors: number; failure: string | null } | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const server = useAction(async () => setReport(await getJson<VerifyReport>("/admin/audit/verify")));
  const browser = useAction(async () => {
    setLocal(null);
    const { events: total } = await getJson<{ events: number }>("/admin/audit/anchors");
    let from = 1;
    let events = 0;
    let anchors = 0;
    let lastHash: string | null = null;
    // Pages chain on: each export starts from the previous page's last hash.
    while (from <= total) {
      setProgress({ done: from - 1, total });
      const bundle = await getJson<AuditExportBundle>(`/admin/audit/export?from=${from}&limit=1000`);
      if (bundle.events.length === 0) break;
      const failure =
        lastHash !== null && bundle.prevHash !== lastHash
          ? `event ${bundle.events[0]!.id}: the page does not continue the previous one`
          : await verifyAuditExport(bundle);
      lastHash = bundle.events[bundle.events.length - 1]!.hash;
      events += bundle.events.length;
      anchors += bundle.anchors.filter((a) => a.evidence).length;
      if (failure) {
        setLocal({ events, anchors, failure });
        return;
      }
      from = bundle.events[bundle.events.length - 1]!.id + 1;
    }
    setProgress(null);
    setLocal({ events, anchors, failure: null });
  });
  return (
    <div class="panel">
      <h2>Integrity</h2>
      <p>
        <button type="button" disabled={server.busy} onClick={() => void server.run()}>
          Verify the hash chain (server)
        </button>{" "}
        <button type="button" disabled={browser.busy} onClick={() => void browser.run()}>
          Export and verify in this browser
        </button>
      </p>
      <ScheduledChecks />
      {progress && browser.busy && <Progress label="Verifying exported events" done={progress.done} total={progress.total} />}
      <ErrorBox error={server.error ?? browser.error} />
      {report && (
        <p role="status" class={report.ok && report.anchorMismatches.length === 0 ? "ok" : "error"}>
          {report.ok
            ? `Server: the chain of ${report.events} events verifies; head ${short(report.head, 16)}.`
            : `Server: broken at event ${report.firstBroken?.id} (${report.firstBroken?.reason}) after ${report.events} good events.`}
          {report.anchorMismatches.length > 0 && ` Anchored heads that no longer match: ${report.anchorMismatches.join(", ")}.`}
        </p>
      )}
      {local && (
        <p role="status" class={local.failure ? "error" : "ok"}>
          {local.failure
            ? `Browser: the export fails at ${local.failure}.`
            : `Browser: ${local.events} exported events and ${local.anchors} anchor proofs verify.`}
        </p>
      )}
    </div>
  );
}

/** The last scheduled (or requested) re-verification of the audit log and the chain's stored blocks. */
function ScheduledChecks() {
  const checks = useLoad(() => getJson<StoreChecks>("/admin/integrity"), []);
  const names = { audit: "Audit log", chain: "Chain's stored blocks" } as const;
  return (
    <>
      <ErrorBox error={checks.error} />
      <ul class="checks">
        {checks.data?.items.map((c) => (
          <li key={c.target} class={c.ok === false ? "error" : c.ok ? "ok" : undefined}>
            {names[c.target]}:{" "}
            {c.at === null
              ? "not checked yet"
              : c.ok
                ? `verified ${formatTime(c.at)} (${c.source}, ${c.checked} ${c.target === "audit" ? "events" : "blocks"})`
                : `DAMAGED at ${c.target === "audit" ? "event" : "block"} ${c.firstBad} (${c.fault}), found ${formatTime(c.at)}`}
            {c.nextDueAt && `; next check ${formatTime(c.nextDueAt)}`}
          </li>
        ))}
      </ul>
    </>
  );
}
