/**
 * Live notifications and emergency state for everyone signed in, over the notifications
 * WebSocket (a browser cannot set Authorization on a WebSocket, so the access token travels as
 * the subprotocol `lucid.bearer.<token>` next to `lucid`). The server's `hello` carries the
 * emergency controls and recent notifications; an `emergency` change reconnects for a fresh
 * `hello`. Every frame is validated before use; notifications are dismissible per tab.
 */
import { useEffect, useState } from "preact/hooks";
import { z } from "zod";
import { auth } from "../lib/session.ts";

const Flag = z.object({ active: z.boolean() }).passthrough();
const Note = z.object({ id: z.number().int(), at: z.string(), severity: z.string(), title: z.string(), body: z.string() });
const Frame = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    emergency: z.object({ lockdown: Flag, recordings_halted: Flag, sessions_shutdown: Flag, lockdownMessage: z.string() }),
    recent: z.array(Note),
  }),
  Note.extend({ type: z.literal("notification") }),
  Note.extend({ type: z.literal("retraction") }),
  Note.extend({ type: z.literal("emergency") }),
  z.object({ type: z.literal("pong") }),
]);

type Emergency = Extract<z.infer<typeof Frame>, { type: "hello" }>["emergency"];
type Notification = z.infer<typeof Note>;

const DISMISSED = "lucid.dashboard.dismissed";

/** Keeps one socket open while signed in; reconnects with back-off (2 s doubling to 30 s). */
function useNotifications() {
  const [emergency, setEmergency] = useState<Emergency | null>(null);
  const [notes, setNotes] = useState<Notification[]>([]);
  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let delay = 2000;
    let stopped = false;
    const connect = () => {
      const token = auth.accessToken();
      if (stopped || !token) return;
      const url = new URL("/api/v1/notifications/live", location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(url, ["lucid", `lucid.bearer.${token}`]);
      socket = ws;
      ws.onmessage = (event) => {
        const parsed = Frame.safeParse(JSON.parse(String(event.data)));
        if (!parsed.success) return;
        const frame = parsed.data;
        delay = 2000;
        if (frame.type === "hello") {
          setEmergency(frame.emergency);
          setNotes(frame.recent);
        } else if (frame.type === "notification") setNotes((list) => [...list.filter((n) => n.id !== frame.id), frame]);
        else if (frame.type === "retraction") setNotes((list) => list.filter((n) => n.id !== frame.id));
        else if (frame.type === "emergency") {
          // The next hello has the new state: open a fresh socket now, without waiting for this
          // one's closing handshake.
          ws.onclose = null;
          ws.onmessage = null;
          ws.close(1000, "refresh");
          connect();
        }
      };
      ws.onclose = () => {
        if (stopped) return;
        retry = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30_000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      socket?.close(1000, "signed out");
    };
  }, []);
  return { emergency, notes };
}

export function NotificationBanner() {
  const { emergency, notes } = useNotifications();
  const [dismissed, setDismissed] = useState<number[]>(() => JSON.parse(sessionStorage.getItem(DISMISSED) ?? "[]") as number[]);
  const dismiss = (id: number) => {
    const next = [...dismissed, id];
    sessionStorage.setItem(DISMISSED, JSON.stringify(next));
    setDismissed(next);
  };
  const visible = notes.filter((n) => !dismissed.includes(n.id)).slice(-3);
  const active = emergency
    ? [
        emergency.lockdown.active && "LOCKDOWN",
        emergency.recordings_halted.active && "recordings halted",
        emergency.sessions_shutdown.active && "new sessions shut down",
      ].filter(Boolean)
    : [];
  return (
    <div aria-live="polite">
      {active.length > 0 && (
        <p class="lockdown" role="alert" data-testid="emergency-banner">
          Emergency controls active: {active.join(", ")}.{emergency?.lockdown.active ? ` ${emergency.lockdownMessage}` : ""}{" "}
          {auth.can("ADMIN") && <a href="/emergency">Emergency controls</a>}
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
