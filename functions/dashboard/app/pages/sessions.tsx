/** Sessions: newest first with their live state (refreshed every 5 s), filter by state, search. */
import { useState } from "preact/hooks";
import { getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, short } from "../lib/format.ts";
import { ErrorBox, Progress, useLoad } from "../components/feedback.tsx";
import { Columns, Pager } from "../components/table.tsx";
import { NewSessionForm } from "../components/new-session.tsx";
import { MatchedIn } from "../components/search-hit.tsx";

type SearchHit = Answer<Api["sessions"]["search"]["$get"]>["items"][number];

const STATES = ["created", "recording", "processing", "stored", "anchored", "completed", "failed", "cancelled"];

export function SessionsPage() {
  const [state, setState] = useState("");
  const [query, setQuery] = useState("");
  const [submitted, setSubmitted] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(
    async () => {
      if (submitted) {
        const found = await getJson<Answer<Api["sessions"]["search"]["$get"]>>(
          `/sessions/search?q=${encodeURIComponent(submitted)}&limit=50`,
        );
        return { items: found.items, nextCursor: null };
      }
      const params = new URLSearchParams({ limit: "25" });
      if (state) params.set("state", state);
      if (cursor) params.set("cursor", cursor);
      const page = await getJson<Answer<Api["sessions"]["$get"]>>(`/sessions?${params}`);
      return { ...page, items: page.items.map((s) => ({ ...s, matches: [] as SearchHit["matches"] })) };
    },
    [state, submitted, cursor],
    5_000,
  );
  return (
    <section>
      <h1>Sessions</h1>
      <NewSessionForm />
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([]);
          setSubmitted(query.trim());
        }}
      >
        <label>
          Search
          <input
            type="search"
            name="q"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            placeholder="title, tag, node, window title…"
          />
        </label>
        <button type="submit">Search</button>
        <label>
          State
          <select
            value={state}
            onChange={(e) => {
              setCursors([]);
              setSubmitted("");
              setState(e.currentTarget.value);
            }}
          >
            <option value="">any</option>
            {STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      {list.loading && !list.data && <Progress label="Loading sessions…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && (
        <>
          <table>
            <caption class="visually-hidden">Sessions, newest first; the state refreshes every 5 seconds</caption>
            <Columns names={["Title", "State", "Node", "Owner", "Created"]} />
            <tbody aria-live="polite">
              {list.data.items.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`/sessions/${s.id}`}>{s.title}</a>
                    <MatchedIn id={s.id} matches={s.matches} />
                  </td>
                  <td>
                    <span class={`state state-${s.state}`}>{s.state}</span>
                  </td>
                  <td title={s.nodeId}>{short(s.nodeId, 14)}</td>
                  <td title={s.ownerId}>{short(s.ownerId)}</td>
                  <td>{formatTime(s.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.items.length === 0 && <p class="muted">No sessions match.</p>}
          <Pager stack={cursors} onChange={setCursors} next={list.data.nextCursor} />
        </>
      )}
    </section>
  );
}
