/**
 * Users and roles (ADMIN+): the directory, searched in the browser over the loaded pages, and
 * role changes. The server judges each change by the caller's current role and login session
 * (a session that passed TOTP; ADMIN and SUPER_ADMIN only by a SUPER_ADMIN, with a fresh TOTP or
 * recovery code asked for here with each such change; the last SUPER_ADMIN stays), audits it,
 * and its refusal is shown as the problem it answered.
 */
import { useState } from "preact/hooks";
import { getJson, postJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, short } from "../lib/format.ts";
import { auth } from "../lib/session.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { changesAdminAuthority, ROLES, type Role } from "../../../../shared/rbac.ts";
import { Columns } from "../components/table.tsx";
import { secondFactor } from "../lib/second-factor.ts";

type User = Answer<Api["users"]["$get"]>["users"][number];
const PAGE = 200;

async function loadUsers(pages: number): Promise<{ users: User[]; more: boolean }> {
  const users: User[] = [];
  let after: string | undefined;
  for (let i = 0; i < pages; i++) {
    const page = await getJson<Answer<Api["users"]["$get"]>>(`/users?limit=${PAGE}${after ? `&after=${after}` : ""}`);
    users.push(...page.users);
    if (page.users.length < PAGE) return { users, more: false };
    after = page.users[page.users.length - 1]!.id;
  }
  return { users, more: true };
}

function matches(user: User, query: string): boolean {
  if (!query) return true;
  const q = query.toLowerCase();
  return [user.id, user.tronAddress, user.email, user.displayName, user.role].some((v) => v?.toLowerCase().includes(q));
}

export function UsersPage() {
  const [pages, setPages] = useState(1);
  const list = useLoad(() => loadUsers(pages), [pages]);
  const [query, setQuery] = useState("");
  const shown = (list.data?.users ?? []).filter((u) => matches(u, query.trim()));
  return (
    <section>
      <h1>Users and roles</h1>
      <form class="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search users
          <input
            type="search"
            name="q"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            placeholder="address, email, name, id or role"
          />
        </label>
      </form>
      {list.loading && !list.data && <Progress label="Loading users…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && (
        <>
          <p role="status">
            {shown.length} of {list.data.users.length} users{list.data.more ? " loaded" : ""}.
          </p>
          <table data-testid="users-table">
            <Columns names={["User", "TRON address", "Email", "Since", "Role"]} />
            <tbody>
              {shown.map((u) => (
                <UserRow key={u.id} user={u} onChanged={list.reload} />
              ))}
            </tbody>
          </table>
          {list.data.more && (
            <div class="pager">
              <button type="button" onClick={() => setPages(pages + 1)}>
                Load more
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function UserRow({ user, onChanged }: { user: User; onChanged: () => void }) {
  const [role, setRole] = useState<Role>(user.role);
  const [code, setCode] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const self = auth.current()?.user.id === user.id;
  // Granting or removing ADMIN / SUPER_ADMIN hands out authority: the server wants a fresh code with it.
  const needsCode = changesAdminAuthority(user.role, role);
  const change = useAction(async () => {
    setDone(null);
    const body = needsCode ? { role, ...secondFactor(code) } : { role };
    const updated = await postJson<Answer<Api["users"][":id"]["role"]["$put"]>>(`/users/${user.id}/role`, body, { method: "PUT" });
    setCode("");
    setDone(`Now ${updated.role}.`);
    onChanged();
  });
  const label = user.displayName ?? user.email ?? user.tronAddress ?? user.id;
  return (
    <tr data-user={user.id}>
      <td title={user.id}>
        {user.displayName ?? short(user.id)}
        {self && <span class="muted"> (you)</span>}
      </td>
      <td>{user.tronAddress ? <code>{user.tronAddress}</code> : "—"}</td>
      <td>{user.email ?? "—"}</td>
      <td>{formatTime(user.createdAt)}</td>
      <td>
        <form
          class="toolbar"
          aria-label={`Role of ${label}`}
          onSubmit={(e) => {
            e.preventDefault();
            void change.run();
          }}
        >
          <span class={`state state-role`} data-testid="role">
            {user.role}
          </span>
          <select aria-label={`New role for ${label}`} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {ROLES.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
          {needsCode && role !== user.role && (
            <label>
              TOTP or recovery code
              <input
                name="code"
                required
                autoComplete="one-time-code"
                size={12}
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </label>
          )}
          <button type="submit" disabled={change.busy || role === user.role}>
            Change role
          </button>
        </form>
        <ErrorBox error={change.error} />
        {done && !change.error && (
          <p role="status" class="ok">
            {done}
          </p>
        )}
      </td>
    </tr>
  );
}
