/** One session: live status (polled), its events, playback, and evidence verified in this browser. */
import { useState } from "preact/hooks";
import { evidenceBundle, verifyEvidence, type VerifyResult } from "../../../../shared/verify.ts";
import { call, getJson, type Answer, type Api, type Body } from "../lib/api.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { navigate } from "../lib/router.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Player } from "../components/player.tsx";

const PLAYABLE = ["processing", "stored", "anchored", "completed"];

export function SessionPage({ id }: { id: string }) {
  const session = useLoad(() => getJson<Answer<Api["sessions"][":id"]["$get"]>>(`/sessions/${id}`), [id], 3_000);
  const events = useLoad(
    () => getJson<Answer<Api["sessions"][":id"]["events"]["$get"]>>(`/sessions/${id}/events`),
    [id, session.data?.version],
  );
  const s = session.data;
  const mayDelete = s && (s.ownerId === auth.current()?.user.id || auth.can("ADMIN")) && !s.deleted;
  const terminate = useAction(async () => {
    const reason = prompt("Why is this session terminated? (recorded in the audit log)")?.trim();
    if (!reason) return;
    await call(`/admin/sessions/${id}/terminate`, {
      method: "POST",
      body: { reason } satisfies Body<Api["admin"]["sessions"][":id"]["terminate"]["$post"]>,
    });
    session.reload();
  });
  const remove = useAction(async () => {
    if (
      !confirm(
        "Delete this session's chunks and destroy its key? The record, manifest and proofs stay; the recording can never be played again.",
      )
    )
      return;
    await call(`/sessions/${id}`, { method: "DELETE" });
    session.reload();
  });
  return (
    <section>
      <p>
        <a href="/sessions" onClick={(e) => (e.preventDefault(), navigate("/sessions"))}>
          ← Sessions
        </a>
      </p>
      <h1>{s?.title ?? "Session"}</h1>
      {!s && session.loading && <Progress label="Loading the session…" />}
      <ErrorBox error={session.error} onRetry={session.reload} />
      {s && (
        <>
          <dl class="facts" aria-live="polite">
            <dt>State</dt>
            <dd>
              <span class={`state state-${s.state}`} data-testid="session-state">
                {s.state}
              </span>
              {s.failure && <span class="error-text"> — {s.failure}</span>}
            </dd>
            <dt>Node</dt>
            <dd>{s.nodeId}</dd>
            <dt>Owner</dt>
            <dd>{s.ownerId}</dd>
            <dt>Interaction</dt>
            <dd data-testid="session-interaction">
              {s.interaction}
              {s.interaction === "full" && <span class="muted"> — typed text and clipboard text are recorded</span>}
            </dd>
            <dt>Chunks</dt>
            <dd>
              {s.chunks.count} ({formatBytes(s.chunks.bytes)})
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(s.createdAt)}</dd>
            <dt>Stopped</dt>
            <dd>{formatTime(s.stoppedAt)}</dd>
            <dt>Merkle root</dt>
            <dd>
              <code>{s.merkleRoot ?? "—"}</code>
            </dd>
            <dt>Anchor</dt>
            <dd>{s.anchor ? <a href={`/chain?block=${s.anchor.blockHeight}`}>block {s.anchor.blockHeight}</a> : "not yet"}</dd>
            <dt>Key</dt>
            <dd>{s.keyShredded ? "destroyed (crypto-shredded)" : "held, wrapped"}</dd>
            <dt>Integrity</dt>
            <dd>
              {s.lastIntegrityCheck
                ? `${s.lastIntegrityCheck.ok ? `intact (${s.lastIntegrityCheck.checked} chunks)` : `damaged: chunk ${s.lastIntegrityCheck.badChunks.map((b) => `${b.index} (${b.reason})`).join(", ")}`} — ${s.lastIntegrityCheck.source}, ${formatTime(s.lastIntegrityCheck.at)}`
                : "not checked yet"}
            </dd>
            <dt>Legal hold</dt>
            <dd>{s.legalHold ? `since ${formatTime(s.legalHold.since)}: ${s.legalHold.reason}` : "none"}</dd>
            <dt>Expires</dt>
            <dd>{formatTime(s.expiresAt)}</dd>
          </dl>
          {PLAYABLE.includes(s.state) && !s.keyShredded && s.chunks.count > 0 ? (
            <Player sessionId={id} startChunk={startChunk()} policy={s.interaction} />
          ) : (
            <p class="muted">
              {s.keyShredded ? "The recording's key was destroyed: it cannot be played." : "Playback opens once the recording has stopped."}
            </p>
          )}
          {s.anchor && <EvidenceCheck id={id} chunkCount={s.chunks.count} playable={!s.deleted} />}
          {auth.can("ADMIN") && ["created", "recording"].includes(s.state) && (
            <p>
              <button type="button" class="danger" disabled={terminate.busy} onClick={() => void terminate.run()}>
                Terminate session
              </button>
              <ErrorBox error={terminate.error} />
            </p>
          )}
          {mayDelete && (
            <p>
              <button type="button" class="danger" disabled={remove.busy} onClick={() => void remove.run()}>
                Delete recording (crypto-shred)
              </button>
              <ErrorBox error={remove.error} />
            </p>
          )}
        </>
      )}
      {s && <h2>Events</h2>}
      {s && <ErrorBox error={events.error} onRetry={events.reload} />}
      {s && events.data && (
        <ol class="events">
          {events.data.items.map((e) => (
            <li>
              <time dateTime={e.at}>{formatTime(e.at)}</time> {e.kind}
              {e.toState ? ` → ${e.toState}` : ""} <span class="muted">by {e.actor}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** `?chunk=N` (a search hit's chunk): where the player opens. */
function startChunk(): number | undefined {
  const value = new URLSearchParams(location.search).get("chunk");
  return value !== null && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/** Downloads the evidence bundle (and, if asked, every chunk) and runs shared/verify.ts here. */
function EvidenceCheck({ id, chunkCount, playable }: { id: string; chunkCount: number; playable: boolean }) {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const check = useAction(async (withChunks: boolean) => {
    setResult(null);
    const bundle = evidenceBundle.parse(await getJson<unknown>(`/sessions/${id}/evidence`));
    const blobs = new Map<number, Uint8Array>();
    if (withChunks) {
      for (let index = 0; index < chunkCount; index++) {
        setProgress({ done: index, total: chunkCount });
        blobs.set(index, new Uint8Array(await (await call(`/sessions/${id}/chunks/${index}`)).arrayBuffer()));
      }
      setProgress(null);
    }
    setResult(await verifyEvidence(bundle, { chunkBytes: withChunks ? (i) => blobs.get(i) : undefined }));
  });
  // The recording package (docs/package.md): saved as a file to hand over, checked by its own verify.html.
  const download = useAction(async () => {
    const blob = await (await call(`/sessions/${id}/package`)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `session-${id}.lucid.tar`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  });
  return (
    <section aria-labelledby="evidence-heading">
      <h2 id="evidence-heading">Evidence</h2>
      <p>
        <button type="button" disabled={check.busy} onClick={() => void check.run(false)}>
          Verify the proofs in this browser
        </button>{" "}
        {playable && (
          <button type="button" disabled={check.busy} onClick={() => void check.run(true)}>
            Verify with the chunk files
          </button>
        )}{" "}
        {playable && (
          <button type="button" disabled={download.busy} onClick={() => void download.run()}>
            Download the recording package
          </button>
        )}
      </p>
      <ErrorBox error={download.error} />
      {progress && <Progress label="Downloading chunks to hash them" done={progress.done} total={progress.total} />}
      <ErrorBox error={check.error} />
      {result && (
        <div role="status" class={result.ok ? "ok" : "error"}>
          <strong>
            {result.ok
              ? "Verified: the recording is intact and anchored."
              : `Failed at “${result.failure.step}”: ${result.failure.message}`}
          </strong>
          <ul>
            {result.checks.map((c) => (
              <li>
                {c.ok ? "✔" : "✘"} {c.step}: {c.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
