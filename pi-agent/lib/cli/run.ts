import { join } from "node:path";
import { parseArgs } from "node:util";
import { ControlChannel } from "../node/control-channel.ts";
import { Heartbeater, HeartbeatRefusedError } from "../node/heartbeat.ts";
import { NoticeBoard } from "../node/notice-board.ts";
import { NotificationActions, type DesktopHost } from "../node/notification-actions.ts";
import { NotificationStream } from "../node/notification-stream.ts";
import { SpoolDrainer } from "../node/spool-drainer.ts";
import { agentServices } from "../node/self-check.ts";
import { closeDesktopNotices, showDesktopNotice } from "../xrdp/desktop-notice.ts";
import { DEFAULT_STATE_DIR, NotEnrolledError, loadNodeState } from "../node/state.ts";
import { ServerManager } from "../xrdp/manager.ts";
import { DesktopCgroups } from "../xrdp/cgroups.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";

const SPOOL_DRAIN_INTERVAL_MS = 60_000;

export const RUN_HELP = `lucid-agent run [options]

The node daemon (after \`lucid-agent enroll\`): sends a signed heartbeat at once and then every
interval the node pool asks for (60 s by default), keeps the RDP agent channel to the control plane
open (reconnecting with back-off), starts and stops xrdp servers on its commands, records each
session's X display into STATE/spool/<session> and uploads the chunks (what a stopped server's
recorder left behind, e.g. during a lockdown, goes up once writes are allowed), and listens to the
notifications stream (admin broadcasts and emergency controls: see docs/agent.md "What the agent does
on a notification"; \`lucid-agent status --state DIR\` shows what it was told). Runs as root (it creates
session users and starts xrdp). SIGINT/SIGTERM stop the servers cleanly and exit.

  --state DIR               state directory written by enroll (default ${DEFAULT_STATE_DIR})
  --listen ADDRESS          address the xrdp servers listen on (default 0.0.0.0)
  --desktop CMD             what a session's startwm.sh runs (default x-session-manager)
  --heartbeat-seconds N     beat this often instead of the pool's interval
  --idle-seconds N          a connection without activity this long is idle (default 60)
  --record-fps N            frames a second recorded from a session (default 10)
  --record-chunk-seconds N  longest span of one recorded chunk (default 60)
  --display-offset N        first X display number of xrdp sessions (default 10)
  --public-address HOST     host name or address RDP clients use to reach this machine
  --rdp-ports MIN-MAX       serve RDP only on these ports (told to the host, which allocates inside them;
                            two agents on one machine each take their own range)
  --no-channel              no RDP agent channel
  --no-notifications        do not listen to the notifications stream (nor follow the emergency controls)
  --no-upload               keep recordings in the spool instead of uploading them

Exit codes: 0 stopped by a signal, 64 usage or not enrolled, 77 the node API refused this node
(credential revoked or expired, node suspended or terminated: issue a new credential or re-enrol).
`;

export async function run(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      state: { type: "string" },
      listen: { type: "string" },
      desktop: { type: "string" },
      "heartbeat-seconds": { type: "string" },
      "idle-seconds": { type: "string" },
      "record-fps": { type: "string" },
      "record-chunk-seconds": { type: "string" },
      "display-offset": { type: "string" },
      "public-address": { type: "string" },
      "rdp-ports": { type: "string" },
      "no-channel": { type: "boolean" },
      "no-notifications": { type: "boolean" },
      "no-upload": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(RUN_HELP), EXIT.ok);
  const stateDir = values.state ?? DEFAULT_STATE_DIR;
  const heartbeatSeconds =
    values["heartbeat-seconds"] === undefined ? undefined : positiveNumber(values["heartbeat-seconds"], "heartbeat-seconds", 60);
  const idleSeconds = positiveNumber(values["idle-seconds"], "idle-seconds", 60);
  const recordFps = positiveNumber(values["record-fps"], "record-fps", 10);
  const recordChunkSeconds = positiveNumber(values["record-chunk-seconds"], "record-chunk-seconds", 60);
  const displayOffset = positiveNumber(values["display-offset"], "display-offset", 10, true);
  const publicAddress = values["public-address"];
  if (publicAddress !== undefined && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(publicAddress))
    throw new UsageError("--public-address must be a host name or IP address");
  const portRange = values["rdp-ports"] === undefined ? undefined : /^(\d{1,5})-(\d{1,5})$/.exec(values["rdp-ports"]);
  if (
    portRange === null ||
    (portRange && !(Number(portRange[1]) >= 1 && Number(portRange[1]) <= Number(portRange[2]) && Number(portRange[2]) <= 65535))
  ) {
    throw new UsageError("--rdp-ports must look like 13389-13399 (1..65535, min ≤ max)");
  }
  const ports = portRange ? { min: Number(portRange[1]), max: Number(portRange[2]) } : undefined;
  let state;
  try {
    state = loadNodeState(stateDir);
  } catch (error) {
    if (error instanceof NotEnrolledError) throw new UsageError(error.message);
    throw error;
  }
  log(`node ${state.nodeId} (${state.pool}) → ${state.server}`);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let channel: ControlChannel | null = null;
  let actions: NotificationActions | null = null;
  const manager = new ServerManager({
    stateDir,
    listenAddress: values.listen ?? "0.0.0.0",
    desktop: values.desktop ?? "x-session-manager",
    agentBin: join(import.meta.dirname, "../../bin/lucid-agent.ts"),
    upload: values["no-upload"] ? undefined : state,
    displayOffset,
    recordFps,
    recordChunkSeconds,
    cgroups: DesktopCgroups.open(log),
    idleSeconds,
    onNotify: async (command, target) => actions!.serverNotify(command.commandId, command.serverId, command.level, command.message, target),
    onEvent: (event) => {
      log(`event ${JSON.stringify(event)}`);
      channel?.send(event);
    },
    log,
  });
  // Chunks a stopped server's recorder could not send (a lockdown held them, or it died) go up from here.
  const drainer = values["no-upload"]
    ? null
    : new SpoolDrainer({
        spoolRoot: join(stateDir, "spool"),
        server: state.server,
        token: state.credential.token,
        owned: () => manager.recordingSessions(),
        log,
      });
  const board = new NoticeBoard(stateDir, log);
  const host: DesktopHost = {
    desktops: () => manager.desktops(),
    applyEmergency: async (policy) => {
      await manager.applyEmergency(policy);
      drainer?.setWritesHeld(policy.writesHeld);
    },
  };
  actions = new NotificationActions({
    board,
    host,
    show: (target, notice, tag) => showDesktopNotice(target, notice, { tag }),
    closeTagged: closeDesktopNotices,
    log,
  });
  const listening = !values["no-notifications"];
  // Without the stream the agent would never hear a lockdown lifted: the remembered state applies only when listening.
  if (listening) await actions.resume();
  const stream = !listening
    ? null
    : new NotificationStream({
        state,
        cursor: board.cursor,
        handlers: {
          emergencyState: (s) => actions!.emergencyState(s),
          emergencyChange: (m) => actions!.emergencyChange(m),
          notification: (m) => actions!.notification(m),
          retraction: (m) => actions!.retraction(m),
          retractedWhileAway: (ids) => actions!.retractedWhileAway(ids),
          history: (m, cursor) => actions!.history(m, cursor),
          event: (e) =>
            log(
              e.kind === "connected"
                ? `notifications connected (${e.resumedAfter === null ? "first time" : `resuming after ${e.resumedAfter}`}; newest ${e.lastId})`
                : e.kind === "closed"
                  ? `notifications closed (${e.code}${e.reason ? ` ${e.reason}` : ""}); reconnecting in ${e.retryInMs} ms`
                  : e.kind === "duplicate"
                    ? `notification ${e.id} already handled; ignored`
                    : e.kind === "cursor-reset"
                      ? `notifications: the server's newest id ${e.to} is behind ours (${e.from}): its history was reset; following it`
                      : `notifications: ignored a frame: ${e.detail}`,
            ),
        },
      });
  const reaped = manager.reapOrphans();
  if (reaped > 0) log(`ended ${reaped} xrdp processes a previous run left behind`);
  const heartbeater = new Heartbeater({
    state,
    stateDir,
    intervalSeconds: heartbeatSeconds,
    work: {
      sessionsHosted: () => manager.running(),
      takeBytesRecorded: () => manager.takeBytesRecorded(),
      giveBackBytesRecorded: (n) => manager.giveBackBytesRecorded(n),
      accepting: () => !stop.signal.aborted,
      services: () => agentServices(manager, join(stateDir, "spool")),
    },
    held: () => listening && actions!.policy.writesHeld,
    onEvent: (e) =>
      log(
        e.kind === "accepted"
          ? `heartbeat ${e.seq} accepted (node ${e.state}); next in ${e.nextSeconds} s`
          : e.kind === "resync"
            ? `heartbeat sequence behind the pool's: continuing at ${e.to}`
            : e.kind === "challenge"
              ? e.reason === "fetched"
                ? "heartbeat challenge fetched from the pool"
                : "heartbeat challenge was stale: signing the pool's current one"
              : e.kind === "held"
                ? e.held
                  ? "heartbeats held: lockdown (the server refuses node writes)"
                  : "heartbeats resumed: lockdown lifted"
                : `heartbeat ${e.seq} failed (${e.reason}); retrying in ${e.delayMs} ms`,
      ),
  });
  if (!values["no-channel"]) {
    channel = new ControlChannel({
      state,
      handler: manager,
      agentVersion: "lucid-agent/0.1.0",
      address: publicAddress,
      ports,
      onEvent: (e) =>
        log(
          e.kind === "connected"
            ? `control channel connected (${e.channel})`
            : e.kind === "closed"
              ? `control channel closed (${e.code}${e.reason ? ` ${e.reason}` : ""}); reconnecting in ${e.retryInMs} ms`
              : e.kind === "command"
                ? `command ${e.id} (${e.command}, attempt ${e.attempt}): ${e.outcome}${e.error ? `: ${e.error}` : ""}`
                : `control plane error ${e.code}: ${e.detail}`,
        ),
    });
  }

  let code: number = EXIT.ok;
  drainer?.kick();
  // Servers stop and recorders end at any time: look for what they left every minute.
  const drainTimer = drainer ? setInterval(() => drainer.kick(), SPOOL_DRAIN_INTERVAL_MS) : null;
  const channelRun = channel?.run(stop.signal);
  const streamRun = stream?.run(stop.signal);
  try {
    await heartbeater.run(stop.signal);
  } catch (error) {
    if (!(error instanceof HeartbeatRefusedError)) throw error;
    log(`error: ${error.message}; issue a new credential (POST /api/v1/nodes/${state.nodeId}/credentials) or enrol again`);
    code = EXIT.refused;
    stop.abort();
  }
  await channelRun;
  await streamRun;
  if (drainTimer) clearInterval(drainTimer);
  await drainer?.close();
  await manager.close();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  log("stopped");
  return code;
}
