/** The dashboard's shell: who is signed in, the pages their role may see, keyboard-first navigation. */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ROLE_RANK, type Role } from "../../../shared/rbac.ts";
import { postJson } from "./lib/api.ts";
import { interceptLinks, match, navigate, usePath } from "./lib/router.ts";
import { auth } from "./lib/session.ts";
import { LoginPage, MagicLinkLanding } from "./pages/login.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { SessionsPage } from "./pages/sessions.tsx";
import { SessionPage } from "./pages/session.tsx";
import { NodesPage } from "./pages/nodes.tsx";
import { ChainPage } from "./pages/chain.tsx";
import { PayoutsPage } from "./pages/payouts.tsx";
import { AccountPage } from "./pages/account.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { EmergencyPage } from "./pages/emergency.tsx";
import { UsersPage } from "./pages/users.tsx";
import { AlertsPage } from "./pages/alerts.tsx";
import { ConfigPage } from "./pages/config.tsx";
import { WalletsPage } from "./pages/wallets.tsx";
import { DesktopsPage } from "./pages/desktops.tsx";
import { NotificationBanner } from "./components/notifications.tsx";

interface PageDef {
  path: string;
  title: string;
  least: Role;
  nav: boolean;
  key?: string;
  render: (params: Record<string, string>) => preact.JSX.Element;
}

// `key` is the Alt+<key> shortcut shown in the navigation.
const PAGES: PageDef[] = [
  { path: "/", title: "Overview", least: "USER", nav: true, key: "o", render: () => <OverviewPage /> },
  { path: "/sessions", title: "Sessions", least: "USER", nav: true, key: "s", render: () => <SessionsPage /> },
  { path: "/sessions/:id", title: "Session", least: "USER", nav: false, render: (p) => <SessionPage id={p.id!} /> },
  { path: "/nodes", title: "Nodes", least: "NODE_OPERATOR", nav: true, key: "n", render: () => <NodesPage /> },
  { path: "/chain", title: "Chain", least: "USER", nav: true, key: "c", render: () => <ChainPage /> },
  { path: "/desktops", title: "Desktops", least: "NODE_OPERATOR", nav: true, key: "d", render: () => <DesktopsPage /> },
  { path: "/payouts", title: "Payouts", least: "NODE_OPERATOR", nav: true, key: "p", render: () => <PayoutsPage /> },
  { path: "/audit", title: "Audit log", least: "ADMIN", nav: true, key: "a", render: () => <AuditPage /> },
  { path: "/users", title: "Users", least: "ADMIN", nav: true, key: "r", render: () => <UsersPage /> },
  { path: "/wallets", title: "Wallets", least: "ADMIN", nav: true, key: "w", render: () => <WalletsPage /> },
  { path: "/config", title: "Configuration", least: "ADMIN", nav: true, key: "g", render: () => <ConfigPage /> },
  { path: "/alerts", title: "Alerts", least: "ADMIN", nav: true, key: "l", render: () => <AlertsPage /> },
  { path: "/emergency", title: "Emergency", least: "ADMIN", nav: true, key: "e", render: () => <EmergencyPage /> },
  { path: "/account", title: "Account", least: "USER", nav: true, key: "u", render: () => <AccountPage /> },
];

function useAuth() {
  const [, setVersion] = useState(0);
  useEffect(() => auth.subscribe(() => setVersion((v) => v + 1)), []);
  return auth.current();
}

function App() {
  const path = usePath();
  const tokens = useAuth();
  const main = useRef<HTMLDivElement>(null);

  // Move focus to the new page's heading region after navigation, for keyboard and screen-reader users.
  useEffect(() => {
    const target = document.getElementById("main");
    if (target && document.activeElement === document.body) target.focus({ preventScroll: true });
  }, [path]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!event.altKey || event.ctrlKey || event.metaKey || !auth.current()) return;
      const page = PAGES.find((p) => p.key === event.key.toLowerCase() && p.nav && auth.can(p.least));
      if (!page) return;
      event.preventDefault();
      navigate(page.path);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (path === "/login/magic") return <MagicLinkLanding />;
  if (!tokens) {
    if (path !== "/login") queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true }));
    return <LoginPage />;
  }
  if (path === "/login") {
    queueMicrotask(() => navigate("/", { replace: true }));
    return null;
  }
  const role = tokens.effectiveRole;
  let found: { page: PageDef; params: Record<string, string> } | null = null;
  for (const page of PAGES) {
    const params = match(page.path, path);
    if (params) {
      found = { page, params };
      break;
    }
  }
  document.title = `${found?.page.title ?? "Not found"} · Lucid`;
  return (
    <div class="shell" ref={main}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">Lucid</span>
        <nav aria-label="Dashboard">
          <ul>
            {PAGES.filter((p) => p.nav && ROLE_RANK[role] >= ROLE_RANK[p.least]).map((p) => (
              <li>
                <a
                  href={p.path}
                  aria-current={found?.page === p ? "page" : undefined}
                  aria-keyshortcuts={p.key ? `Alt+${p.key.toUpperCase()}` : undefined}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" title={tokens.user.id}>
          {tokens.user.tronAddress ?? tokens.user.id} · <span data-role={role}>{role}</span>
        </span>
        <button
          type="button"
          onClick={async () => {
            await postJson("/auth/logout", undefined).catch(() => undefined);
            auth.signOut("You signed out.");
            navigate("/login");
          }}
        >
          Sign out
        </button>
      </header>
      {tokens.secondFactor === "enrolment-required" && (
        <p class="notice" role="status">
          Your account is {tokens.user.role}, but until you enrol two-factor authentication it works with USER powers.{" "}
          <a href="/account">Enrol now</a>.
        </p>
      )}
      <NotificationBanner />
      <main id="main" tabIndex={-1}>
        {!found ? (
          <NotFound text={`There is no page at ${path}.`} />
        ) : ROLE_RANK[role] < ROLE_RANK[found.page.least] ? (
          <NotFound text={`${found.page.title} is for ${found.page.least} and above; you are signed in as ${role}.`} />
        ) : (
          found.page.render(found.params)
        )}
      </main>
    </div>
  );
}

function NotFound({ text }: { text: string }) {
  return (
    <section>
      <h1>Not available</h1>
      <p role="alert">{text}</p>
      <a href="/">Back to the overview</a>
    </section>
  );
}

const root = document.getElementById("root")!;
interceptLinks(root);
render(<App />, root);
