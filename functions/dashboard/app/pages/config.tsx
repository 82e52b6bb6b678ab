/**
 * Runtime configuration (ADMIN+): the current version as a form (the server validates it with
 * zod; field errors are shown beside their fields), its history, what changed between two
 * versions (the server's diff), and rollback to an earlier version. Each change needs a reason
 * and the version it was based on, so two admins cannot overwrite each other silently.
 */
import { useState } from "preact/hooks";
import { ApiProblem, getJson, postJson, type Answer, type Api, type Body } from "../lib/api.ts";
import { formatTime, short } from "../lib/format.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Columns } from "../components/table.tsx";

type Version = Answer<Api["admin"]["config"]["$get"]>;
type Settings = Body<Api["admin"]["config"]["$put"]>["config"];
type Diff = Answer<Api["admin"]["config"]["diff"]["$get"]>;

export function ConfigPage() {
  const current = useLoad(() => getJson<Version>("/admin/config"), []);
  const versions = useLoad(() => getJson<Answer<Api["admin"]["config"]["versions"]["$get"]>>("/admin/config/versions?limit=50"), []);
  const reload = () => {
    current.reload();
    versions.reload();
  };
  return (
    <section>
      <h1>Runtime configuration</h1>
      {current.loading && !current.data && <Progress label="Loading the configuration…" />}
      <ErrorBox error={current.error} onRetry={current.reload} />
      {current.data && <Editor key={current.data.version} current={current.data} onSaved={reload} />}
      <ErrorBox error={versions.error} onRetry={versions.reload} />
      {versions.data && current.data && <History versions={versions.data.items} current={current.data.version} onRolledBack={reload} />}
    </section>
  );
}

/** The JSON value a field's text stands for: numbers stay numbers, anything not a number stays as typed. */
function parseField(original: unknown, text: string): unknown {
  if (typeof original === "number") return text.trim() === "" || Number.isNaN(Number(text)) ? text : Number(text);
  if (typeof original === "boolean") return text === "true";
  if (typeof original === "string") return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const asText = (value: unknown) =>
  typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : JSON.stringify(value, null, 2);

function Editor({ current, onSaved }: { current: Version; onSaved: () => void }) {
  const original = current.config as Record<string, unknown>;
  const [fields, setFields] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(original).map(([k, v]) => [k, asText(v)])),
  );
  const [reason, setReason] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const save = useAction(async () => {
    setSaved(null);
    const config = Object.fromEntries(Object.entries(fields).map(([k, text]) => [k, parseField(original[k], text)])) as Settings;
    const result = await postJson<Version>(
      "/admin/config",
      { config, expectedVersion: current.version, reason: reason.trim() },
      { method: "PUT" },
    );
    setSaved(`Saved as version ${result.version}.`);
    onSaved();
  });
  const fieldErrors = save.error instanceof ApiProblem ? save.error.errors : [];
  const errorFor = (key: string) => fieldErrors.find((e) => e.path === `config.${key}` || e.path?.startsWith(`config.${key}.`))?.message;
  return (
    <form
      class="panel"
      aria-labelledby="config-current"
      data-testid="config-editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h2 id="config-current">
        Version {current.version}{" "}
        {current.version === 0 ? (
          <span class="muted">(the built-in defaults)</span>
        ) : (
          <span class="muted">
            by {short(current.createdBy)} · {formatTime(current.createdAt)} · “{current.reason}”
          </span>
        )}
      </h2>
      {Object.keys(fields).map((key) => {
        const error = errorFor(key);
        const value = original[key];
        const props = {
          name: key,
          value: fields[key],
          "aria-invalid": error ? ("true" as const) : undefined,
          "aria-describedby": error ? `config-error-${key}` : undefined,
          onInput: (e: Event) => setFields({ ...fields, [key]: (e.currentTarget as HTMLInputElement).value }),
        };
        return (
          <label>
            {key}
            {typeof value === "number" ? (
              <input type="text" inputMode="numeric" {...props} />
            ) : typeof value === "object" ? (
              <textarea rows={4} {...props} />
            ) : (
              <input {...props} />
            )}
            {error && (
              <span class="error-text" id={`config-error-${key}`}>
                {error}
              </span>
            )}
          </label>
        );
      })}
      <label>
        Reason (recorded in the audit log)
        <input name="reason" required minLength={3} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={save.busy}>
        Save as a new version
      </button>
      <ErrorBox error={save.error} />
      {saved && !save.error && (
        <p role="status" class="ok">
          {saved}
        </p>
      )}
    </form>
  );
}

function History({ versions, current, onRolledBack }: { versions: Version[]; current: number; onRolledBack: () => void }) {
  // Until a version is picked, compare the current version with the one before it.
  const [picked, setPicked] = useState<{ from?: number; to?: number }>({});
  const from = picked.from ?? versions.find((v) => v.version < current)?.version ?? 0;
  const to = picked.to ?? current;
  const [reason, setReason] = useState("");
  const rollback = useAction(async (version: number) => {
    await postJson("/admin/config/rollback", {
      version,
      expectedVersion: current,
      reason: reason.trim() || `roll back to version ${version}`,
    });
    setReason("");
    onRolledBack();
  });
  const all = [...versions.map((v) => v.version), ...(versions.some((v) => v.version === 0) ? [] : [0])];
  return (
    <div class="panel" role="region" aria-labelledby="config-history">
      <h2 id="config-history">Versions</h2>
      <label>
        Rollback reason (recorded in the audit log)
        <input name="rollbackReason" minLength={3} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <ErrorBox error={rollback.error} />
      <table data-testid="config-versions">
        <Columns names={["Version", "When", "By", "Reason", "Rollback"]} />
        <tbody>
          {versions.map((v) => (
            <tr data-version={v.version}>
              <td>
                {v.version}
                {v.version === current && <span class="muted"> (current)</span>}
              </td>
              <td>{formatTime(v.createdAt)}</td>
              <td title={v.createdBy}>{short(v.createdBy)}</td>
              <td>
                {v.reason}
                {v.rollbackOf !== null && <span class="muted"> (rollback to {v.rollbackOf})</span>}
              </td>
              <td>
                {v.version !== current && (
                  <button type="button" disabled={rollback.busy} onClick={() => void rollback.run(v.version)}>
                    Roll back to {v.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
          {current !== 0 && (
            <tr data-version={0}>
              <td>0</td>
              <td colSpan={3} class="muted">
                the built-in defaults
              </td>
              <td>
                <button type="button" disabled={rollback.busy} onClick={() => void rollback.run(0)}>
                  Roll back to 0
                </button>
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <h3>Compare</h3>
      <div class="toolbar">
        <VersionSelect
          name="diffFrom"
          label="From version"
          value={from}
          options={all}
          onChange={(v) => setPicked({ ...picked, from: v })}
        />
        <VersionSelect name="diffTo" label="To version" value={to} options={all} onChange={(v) => setPicked({ ...picked, to: v })} />
      </div>
      <DiffView from={from} to={to} />
    </div>
  );
}

function VersionSelect({
  name,
  label,
  value,
  options,
  onChange,
}: {
  name: string;
  label: string;
  value: number;
  options: number[];
  onChange: (v: number) => void;
}) {
  return (
    <label>
      {label}
      <select name={name} value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
        {options.map((v) => (
          <option value={String(v)}>{v}</option>
        ))}
      </select>
    </label>
  );
}

function DiffView({ from, to }: { from: number; to: number }) {
  const diff = useLoad(() => getJson<Diff>(`/admin/config/diff?from=${from}&to=${to}`), [from, to]);
  if (diff.error) return <ErrorBox error={diff.error} onRetry={diff.reload} />;
  if (!diff.data) return <Progress label="Comparing…" />;
  const changes = diff.data.changes;
  return (
    <table data-testid="config-diff" aria-label={`Changes from version ${from} to ${to}`}>
      <caption class="muted">
        {changes.length === 0
          ? `Versions ${from} and ${to} are the same.`
          : `${changes.length} ${changes.length === 1 ? "setting differs" : "settings differ"} from version ${from} to ${to}.`}
      </caption>
      <thead>
        <tr>
          <th scope="col">Setting</th>
          <th scope="col">Version {from}</th>
          <th scope="col">Version {to}</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr data-path={c.path}>
            <td>
              <code>{c.path}</code>
            </td>
            <td>
              <del>{c.before === undefined ? "—" : asText(c.before)}</del>
            </td>
            <td>
              <ins>{c.after === undefined ? "—" : asText(c.after)}</ins>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
