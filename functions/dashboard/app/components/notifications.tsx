/**
 * Broadcast notifications for the signed-in user (polled: a browser cannot put a bearer token
 * on a WebSocket), dismissible per tab; admins also see which emergency controls are active.
 */
import { useState } from "preact/hooks";
import { getJson } from "../lib/api.ts";
import { auth } from "../lib/session.ts";
import { useLoad } from "./feedback.tsx";

interface Notification {
  id: number;
  at: string;
  severity: string;
  title: string;
  body: string;
}

const DISMISSED = "lucid.dashboard.dismissed";

export function NotificationBanner() {
  const [dismissed, setDismissed] = useState<number[]>(() => JSON.parse(sessionStorage.getItem(DISMISSED) ?? "[]") as number[]);
  const notes = useLoad(() => getJson<{ items: Notification[] }>("/notifications?limit=50"), [], 15_000);
  const admin = auth.can("ADMIN");
  const emergency = useLoad(
    () => (admin ? getJson<{ lockdown: { active: boolean }; recordings_halted: { active: boolean }; sessions_shutdown: { active: boolean } }>("/admin/emergency") : Promise.resolve(null)),
    [admin],
    10_000,
  );
  const dismiss = (id: number) => {
    const next = [...dismissed, id];
    sessionStorage.setItem(DISMISSED, JSON.stringify(next));
    setDismissed(next);
  };
  const visible = (notes.data?.items ?? []).filter((n) => !dismissed.includes(n.id)).slice(-3);
  const active = emergency.data
    ? [emergency.data.lockdown.active && "LOCKDOWN", emergency.data.recordings_halted.active && "recordings halted", emergency.data.sessions_shutdown.active && "new sessions shut down"].filter(Boolean)
    : [];
  return (
    <div aria-live="polite">
      {active.length > 0 && (
        <p class="lockdown" role="alert" data-testid="emergency-banner">
          Emergency controls active: {active.join(", ")}. <a href="/emergency">Emergency controls</a>
        </p>
      )}
      {visible.map((n) => (
        <div class={`notice severity-${n.severity}`} role={n.severity === "critical" ? "alert" : "status"}>
          <strong>{n.title}</strong> {n.body}{" "}
          <button type="button" onClick={() => dismiss(n.id)} aria-label={`Dismiss “${n.title}”`}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
