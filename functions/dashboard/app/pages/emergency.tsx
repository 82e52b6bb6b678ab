/**
 * Emergency controls (ADMIN+): lockdown, halting recordings, shutting down new sessions, and
 * broadcast notifications. Every change needs a reason and a fresh TOTP (or recovery) code,
 * is audited by the server, and is undone with the same control.
 */
import { useState } from "preact/hooks";
import { getJson, postJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime } from "../lib/format.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { secondFactor } from "../lib/second-factor.ts";

type EmergencyState = Answer<Api["admin"]["emergency"]["$get"]>;
type Flag = EmergencyState["lockdown"];

const CONTROLS = [
  {
    key: "lockdown",
    path: "/admin/emergency/lockdown",
    title: "Lockdown",
    on: "Start lockdown",
    off: "Lift lockdown",
    effect: "Every write by a non-admin is refused with 503 (reads continue; admins keep working).",
  },
  {
    key: "recordings_halted",
    path: "/admin/emergency/recordings",
    title: "Recordings",
    on: "Halt all recordings",
    off: "Resume recordings",
    effect: "No session starts and no chunk is accepted while halted.",
  },
  {
    key: "sessions_shutdown",
    path: "/admin/emergency/sessions-shutdown",
    title: "New sessions",
    on: "Shut down new sessions",
    off: "Reopen new sessions",
    effect: "Creating sessions is refused; running ones continue.",
  },
] as const;

export function EmergencyPage() {
  const state = useLoad(() => getJson<EmergencyState>("/admin/emergency"), [], 10_000);
  return (
    <section>
      <h1>Emergency controls</h1>
      {state.loading && !state.data && <Progress label="Loading the emergency state…" />}
      <ErrorBox error={state.error} onRetry={state.reload} />
      {state.data && (
        <div class="grid">
          {CONTROLS.map((control) => (
            <Control control={control} flag={state.data![control.key]} onChanged={state.reload} />
          ))}
        </div>
      )}
      <Broadcast />
    </section>
  );
}

function Control({ control, flag, onChanged }: { control: (typeof CONTROLS)[number]; flag: Flag; onChanged: () => void }) {
  const [reason, setReason] = useState("");
  const [code, setCode] = useState("");
  const [stopActive, setStopActive] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const change = useAction(async () => {
    const turnOn = !flag.active;
    const body: Record<string, unknown> = { active: turnOn, reason: reason.trim(), ...secondFactor(code) };
    if (control.key === "recordings_halted") body.stopActive = turnOn && stopActive;
    const result = await postJson<EmergencyState & { stopped?: { sessionId: string; outcome: string }[] }>(control.path, body);
    setReason("");
    setCode("");
    setDone(
      `${control.title}: ${result[control.key].active ? "on" : "off"}${result.stopped?.length ? `, ${result.stopped.length} recording sessions stopped` : ""}.`,
    );
    onChanged();
  });
  const id = `control-${control.key}`;
  return (
    <form
      class="panel"
      aria-labelledby={id}
      onSubmit={(e) => {
        e.preventDefault();
        void change.run();
      }}
    >
      <h2 id={id}>
        {control.title}:{" "}
        <span class={`state ${flag.active ? "state-failed" : "state-completed"}`} data-testid={`${control.key}-state`}>
          {flag.active ? "ACTIVE" : "off"}
        </span>
      </h2>
      <p class="muted">{control.effect}</p>
      {flag.changedAt && (
        <p>
          Last changed {formatTime(flag.changedAt)} by <code>{flag.changedBy}</code>: “{flag.reason}”
        </p>
      )}
      <label>
        Reason (recorded in the audit log)
        <input name="reason" required minLength={3} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <label>
        TOTP or recovery code
        <input name="code" required autoComplete="one-time-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </label>
      {control.key === "recordings_halted" && !flag.active && (
        <label class="inline">
          <input type="checkbox" checked={stopActive} onChange={(e) => setStopActive(e.currentTarget.checked)} /> Also stop every session
          recording now (cannot be undone for those sessions)
        </label>
      )}
      <button type="submit" class={flag.active ? undefined : "danger"} disabled={change.busy}>
        {flag.active ? control.off : control.on}
      </button>
      {change.busy && <Progress label="Applying…" />}
      <ErrorBox error={change.error} />
      {done && !change.error && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
    </form>
  );
}

function Broadcast() {
  const [form, setForm] = useState({ audience: "all", severity: "warning", title: "", body: "", code: "" });
  const [sent, setSent] = useState<string | null>(null);
  const send = useAction(async () => {
    const { code, ...message } = form;
    const result = await postJson<{ id: number }>("/admin/emergency/notifications", { ...message, ...secondFactor(code) });
    setSent(`Notification ${result.id} sent.`);
    setForm({ ...form, title: "", body: "", code: "" });
  });
  const set = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <form
      class="panel"
      aria-labelledby="broadcast-heading"
      onSubmit={(e) => {
        e.preventDefault();
        void send.run();
      }}
    >
      <h2 id="broadcast-heading">Broadcast a notification</h2>
      <div class="toolbar">
        <label>
          To
          <select value={form.audience} onChange={set("audience")}>
            <option value="all">everyone</option>
            <option value="clients">clients (users)</option>
            <option value="agents">agents (nodes)</option>
          </select>
        </label>
        <label>
          Severity
          <select value={form.severity} onChange={set("severity")}>
            <option value="info">info</option>
            <option value="warning">warning</option>
            <option value="critical">critical</option>
          </select>
        </label>
      </div>
      <label>
        Title
        <input name="title" required maxLength={120} value={form.title} onInput={set("title")} />
      </label>
      <label>
        Message
        <textarea name="body" required maxLength={2000} rows={3} value={form.body} onInput={set("body")} />
      </label>
      <label>
        TOTP or recovery code
        <input name="code" required autoComplete="one-time-code" value={form.code} onInput={set("code")} />
      </label>
      <button type="submit" disabled={send.busy}>
        Send
      </button>
      <ErrorBox error={send.error} />
      {sent && !send.error && (
        <p role="status" class="ok">
          {sent}
        </p>
      )}
    </form>
  );
}
