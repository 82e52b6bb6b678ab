/**
 * The agent side of the RDP control plane: starts and stops xrdp servers on the ports the host's
 * RdpHostDO allocates (shared/rdp/protocol.ts commands), provisions each server's session user,
 * finds the session's X display once the user logs in and records it (a `lucid-agent record`
 * child per server, uploading to the sessions API), and reports connection states and /proc
 * resource use per server.
 *
 * No second of a session goes unrecorded: each server's recorder is started ahead of the login
 * (`record --display -`, loaded and waiting on stdin), the X socket directory is watched (inotify)
 * so the session's display is handed to it the moment its X server listens, and the user's
 * startwm.sh waits for the recording gate (users.ts) — opened once the first frame is captured —
 * before it starts the desktop.
 *
 * Connection states, polled every second: a client TCP connection on the port without a session
 * display yet is `connecting`; with the user's X server up it is `connected`, then `active` while
 * xrdp moves data — its processes read and write (/proc/<pid>/io) whenever the user types, moves
 * the pointer or the screen changes (updates go to the client) — and `idle` after `idleSeconds`
 * without; the connection gone with the session still alive is `disconnected` (xrdp keeps the
 * session for a reconnect). The X server's own CPU time is no measure: our capture keeps it busy.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  lstatSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from "node:fs";
import { connect } from "node:net";
import { cpus } from "node:os";
import { join } from "node:path";
import type { CommandBody, EventBody, ResourceReport, ServerConfig, ServerLimits } from "../../../shared/rdp/protocol.ts";
import { allProcesses, cpuPercentOfHost, processTree, type ProcessInfo } from "../node/proc-stats.ts";
import { declareHandoverCount, firstChunkIndex, sessionKeyHex } from "../node/sessions-api.ts";
import { Spool } from "../spool.ts";
import { RECORDER_NODE_FLAGS } from "../recorder.ts";
import type { EmergencyPolicy } from "../node/notification-actions.ts";
import type { NodeState } from "../node/state.ts";
import { writeSecretFile } from "../node/state.ts";
import { applyDiskQuota, type DesktopCgroups } from "./cgroups.ts";
import { sesmanIni, xrdpIni } from "./config.ts";
import { establishedClients } from "./tcp.ts";
import type { DesktopTarget } from "./desktop-notice.ts";
import { endUserSession, lookupUser, provisionUser, removeUser, sessionDisplay, type RecordingGate, type SessionUser } from "./users.ts";

/** Where X servers make their sockets: a new one here is a new display. */
const X11_SOCKETS = "/tmp/.X11-unix";

/** A command the agent could not carry out; `code` goes into the ack. */
export class CommandError extends Error {
  readonly code: string;
  constructor(code: string, detail: string) {
    super(detail);
    this.code = code;
    this.name = "CommandError";
  }
}

type ServerState = "starting" | "listening" | "stopped" | "failed";
type ConnectionState = "connecting" | "connected" | "active" | "idle" | "disconnected";

interface Server {
  id: string;
  sessionId: string;
  port: number;
  config: ServerConfig;
  limits: ServerLimits;
  user: SessionUser;
  dir: string;
  xrdp: ChildProcess;
  state: ServerState;
  connection: ConnectionState | null;
  display: string | null;
  /** The server's recorder: started ahead of the login, waiting on stdin for the display. */
  recorder: ChildProcess | null;
  /** The display handed to the current recorder (null while it waits for one). */
  recorderDisplay: string | null;
  /** Resolves once the recorder's signal handlers are set (it waits for a display or records). */
  recorderReady: Promise<void>;
  recordStarting: boolean;
  lastArmAt: number;
  /** Wait before starting another recorder: doubles while recorders fail without recording (max 60 s). */
  armBackoffMs: number;
  lastActiveAt: number;
  lastIoBytes: number;
  sample: { at: number; cpuSeconds: number; rchar: number; wchar: number };
}

export interface ServerManagerOptions {
  stateDir: string;
  /** Address xrdp listens on (0.0.0.0 for the LAN, 127.0.0.1 for tests). */
  listenAddress: string;
  /** The command the session's startwm.sh runs. */
  desktop: string;
  /** Path of the lucid-agent entry, for the recording children. */
  agentBin: string;
  /** Upload recordings with this node's credential (sealed under the session's own data key); omitted, they stay spooled under a local key. */
  upload?: NodeState;
  recordFps?: number;
  /** Each desktop's cgroup v2 (cgroups.ts); null where the kernel cannot enforce limits (reports only). */
  cgroups?: DesktopCgroups | null;
  /** Longest span of one recorded chunk (the recorder's --chunk-seconds; default its own, 60). */
  recordChunkSeconds?: number;
  idleSeconds?: number;
  /** xrdp I/O bytes within one poll that count as activity (default 512). */
  activityBytes?: number;
  /** First X display number sesman gives sessions (sesman.ini X11DisplayOffset; default 10). */
  displayOffset?: number;
  /** Carries out `server.notify` (the user's desktop when a session display is up, else null); without it the command fails as not supported. */
  onNotify?: (
    command: { commandId: string; serverId: string; level: "info" | "warning"; message: string },
    target: DesktopTarget | null,
  ) => Promise<void>;
  /** Root-owned directory of recording gates, one file per session user (default /run/lucid-agent/gates). */
  gateDir?: string;
  /** How long a session's startwm.sh waits for its recording gate before starting the desktop anyway (default 30). */
  gateSeconds?: number;
  pollMs?: number;
  onEvent: (event: EventBody) => void;
  log: (line: string) => void;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portAccepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address === "0.0.0.0" ? "127.0.0.1" : address, port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

function ioBytes(pid: number): { rchar: number; wchar: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    return { rchar: Number(/^rchar: (\d+)/m.exec(io)?.[1] ?? 0), wchar: Number(/^wchar: (\d+)/m.exec(io)?.[1] ?? 0) };
  } catch {
    return { rchar: 0, wchar: 0 };
  }
}

/** Bytes under `dir` (not following links), bounded so a huge home cannot stall the agent. */
function directoryBytes(dir: string, budget = { entries: 20_000 }): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (--budget.entries < 0) break;
    try {
      const s = lstatSync(join(dir, name));
      total += s.isDirectory() ? directoryBytes(join(dir, name), budget) : s.size;
    } catch {
      // removed while walking
    }
  }
  return total;
}

export class ServerManager {
  private readonly servers = new Map<string, Server>();
  private sesman: ChildProcess | null = null;
  private poller: NodeJS.Timeout | null = null;
  /** The emergency controls as they apply here (NotificationActions sets them). */
  private policy: EmergencyPolicy = { writesHeld: false, recordingsHalted: false };
  private socketWatch: FSWatcher | null = null;
  private pollSoon = false;
  private sesmanStartedAt = 0;
  private bytesRecorded = 0;

  private readonly o: ServerManagerOptions;

  constructor(options: ServerManagerOptions) {
    this.o = options;
  }

  list(): { serverId: string; state: ServerState }[] {
    return [...this.servers.values()].map((s) => ({ serverId: s.id, state: s.state }));
  }

  running(): number {
    return [...this.servers.values()].filter((s) => s.state === "listening").length;
  }

  /** Sessions whose spool a server of this agent still records into (running, or its recorder still ending). */
  recordingSessions(): Set<string> {
    return new Set(
      [...this.servers.values()]
        .filter((s) => s.state === "listening" || (s.recorder !== null && s.recorder.exitCode === null && s.recorder.signalCode === null))
        .map((s) => s.sessionId),
    );
  }

  takeBytesRecorded(): number {
    const n = this.bytesRecorded;
    this.bytesRecorded = 0;
    return n;
  }

  giveBackBytesRecorded(n: number): void {
    this.bytesRecorded += n;
  }

  async execute(command: CommandBody, commandId = ""): Promise<void> {
    switch (command.kind) {
      case "server.start":
        return this.start(command);
      case "server.stop":
        return this.stop(command.serverId, command.reason, command.destroy);
      case "server.limits": {
        const server = this.servers.get(command.serverId);
        if (!server) throw new CommandError("unknown-server", `no server ${command.serverId} on this host`);
        server.limits = command.limits; // reported against by the control plane's monitor, and enforced by its cgroup where there is one
        this.enforceLimits(server);
        return;
      }
      case "server.notify": {
        const server = this.servers.get(command.serverId);
        if (!server || server.state !== "listening")
          throw new CommandError("unknown-server", `no running server ${command.serverId} on this host`);
        if (!this.o.onNotify) throw new CommandError("not-supported", "this agent cannot show messages on the session's desktop");
        try {
          await this.o.onNotify({ ...command, commandId }, server.display ? this.desktopOf(server) : null);
        } catch (error) {
          throw new CommandError("notice-not-shown", (error as Error).message);
        }
        return;
      }
      case "server.credentials": {
        const server = this.servers.get(command.serverId);
        if (!server || server.state !== "listening")
          throw new CommandError("unknown-server", `no running server ${command.serverId} on this host`);
        try {
          provisionUser(server.user.name, command.password, this.o.desktop, this.gate(server.user.name));
        } catch (error) {
          throw new CommandError("user-provisioning-failed", (error as Error).message);
        }
        return;
      }
    }
  }

  private async start(c: Extract<CommandBody, { kind: "server.start" }>): Promise<void> {
    const existing = this.servers.get(c.serverId);
    if (existing?.state === "listening" && existing.port === c.port) return; // a replayed start: already done
    if (existing && existing.state !== "stopped" && existing.state !== "failed") {
      throw new CommandError("server-exists", `server ${c.serverId} already runs on port ${existing.port}`);
    }
    const clash = [...this.servers.values()].find((s) => s.port === c.port && s.state === "listening");
    if (clash) throw new CommandError("port-in-use", `port ${c.port} is used by server ${clash.id}`);
    const userClash = [...this.servers.values()].find((s) => s.user.name === c.config.user && s.state === "listening");
    if (userClash) throw new CommandError("user-in-use", `user ${c.config.user} belongs to server ${userClash.id}`);
    if (await portAccepts(this.o.listenAddress, c.port)) throw new CommandError("port-in-use", `something else listens on port ${c.port}`);

    let user: SessionUser;
    try {
      user = provisionUser(c.config.user, c.password, this.o.desktop, this.gate(c.config.user));
      this.closeGate(c.config.user); // a gate left by an earlier session must not open this one
    } catch (error) {
      throw new CommandError("user-provisioning-failed", (error as Error).message);
    }
    const dir = join(this.o.stateDir, "servers", c.serverId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.ensureSesman();
    const ini = join(dir, "xrdp.ini");
    writeFileSync(ini, xrdpIni({ address: this.o.listenAddress, port: c.port, config: c.config, logFile: join(dir, "xrdp.log") }));
    this.emit({ kind: "server", serverId: c.serverId, state: "starting" });
    const xrdp = spawn("xrdp", ["-n", "-c", ini], { stdio: "ignore" });
    const server: Server = {
      id: c.serverId,
      sessionId: c.sessionId,
      port: c.port,
      config: c.config,
      limits: c.limits,
      user,
      dir,
      xrdp,
      state: "starting",
      connection: null,
      display: null,
      recorder: null,
      recorderDisplay: null,
      recorderReady: Promise.resolve(),
      recordStarting: false,
      lastArmAt: 0,
      armBackoffMs: 2000,
      lastActiveAt: 0,
      lastIoBytes: 0,
      sample: { at: performance.now(), cpuSeconds: 0, rchar: 0, wchar: 0 },
    };
    this.servers.set(c.serverId, server);
    this.enforceLimits(server);
    xrdp.on("exit", (code, signal) => {
      if (server.state === "stopped") return;
      server.state = "failed";
      this.emit({ kind: "server", serverId: server.id, state: "failed", detail: `xrdp exited (${signal ?? code})` });
    });
    for (let i = 0; i < 100 && xrdp.exitCode === null && !(await portAccepts(this.o.listenAddress, c.port)); i++) await wait(100);
    if (xrdp.exitCode !== null || !(await portAccepts(this.o.listenAddress, c.port))) {
      xrdp.kill("SIGKILL");
      server.state = "failed";
      const tail = existsSync(join(dir, "xrdp.log"))
        ? readFileSync(join(dir, "xrdp.log"), "utf8").trim().split("\n").slice(-3).join(" | ")
        : "";
      throw new CommandError("xrdp-failed", `xrdp did not listen on port ${c.port}${tail ? `: ${tail}` : ""}`.slice(0, 500));
    }
    server.state = "listening";
    this.emit({ kind: "server", serverId: c.serverId, state: "listening" });
    this.o.log(`server ${c.serverId}: xrdp (${c.config.backend}) listens on ${this.o.listenAddress}:${c.port} for ${user.name}`);
    this.watchSockets();
    this.poller ??= setInterval(() => this.poll(), this.o.pollMs ?? 1000);
    void this.arm(server);
  }

  private async stop(serverId: string, reason: string, destroy: boolean): Promise<void> {
    const server = this.servers.get(serverId);
    if (!server) {
      // Nothing runs under that id (already stopped, or the agent restarted): removing the user is all that is left.
      return;
    }
    const wasRunning = server.state !== "stopped";
    server.state = "stopped";
    if (server.recorder && server.recorder.exitCode === null) {
      // A recorder still starting would die of the signal without sealing anything: let it start first.
      await Promise.race([server.recorderReady, wait(15_000)]);
      server.recorder.kill("SIGTERM"); // seals the open chunk and drains the spool
      await Promise.race([new Promise((r) => server.recorder!.once("exit", r)), wait(15_000)]);
    }
    for (const p of processTree([server.xrdp.pid ?? -1]).reverse()) {
      try {
        process.kill(p.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    endUserSession(server.user);
    this.closeGate(server.user.name);
    void this.o.cgroups?.remove(serverId);
    if (server.connection && server.connection !== "disconnected") this.emit({ kind: "connection", serverId, state: "disconnected" });
    if (reason === "migrated" && this.o.upload) void this.declareHandover(server.sessionId);
    if (destroy) {
      removeUser(lookupUser(server.user.name) ?? server.user);
      rmSync(server.dir, { recursive: true, force: true });
      this.servers.delete(serverId);
    }
    if (wasRunning) this.emit({ kind: "server", serverId, state: "stopped", detail: reason });
    this.o.log(`server ${serverId}: stopped (${reason})${destroy ? ", destroyed" : ""}`);
    if (this.running() === 0) this.stopSesman();
  }

  /**
   * The desktop moved to another host: tell the control plane how many chunks this host recorded
   * (its spool's next index, now that the recorder sealed the last one), so the new host's recording
   * continues right after them. Retried for a while; if it never gets through, the session's grace
   * for this host settles it at the highest stored index.
   */
  private async declareHandover(sessionId: string): Promise<void> {
    const dir = join(this.o.stateDir, "spool", sessionId);
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        let count = 0;
        if (existsSync(join(dir, "session.json"))) {
          const { state, pending } = await Spool.inspect(dir);
          count = Math.max(state.nextIndex, ...pending.map((m) => m.index + 1));
        }
        await declareHandoverCount(this.o.upload!, sessionId, count);
        this.o.log(`session ${sessionId}: handed over after ${count} chunks`);
        return;
      } catch (error) {
        this.o.log(`session ${sessionId}: ${(error as Error).message}${attempt < 10 ? "; retrying" : ""}`);
        await wait(Math.min(30_000, 1000 * 2 ** attempt));
      }
    }
  }

  /**
   * Ends xrdp and sesman processes a previous run of this agent left behind (it was killed with
   * SIGKILL): their servers are unknown to this run, and they would hold their ports.
   */
  reapOrphans(): number {
    const serversDir = join(this.o.stateDir, "servers") + "/";
    const sesman = join(this.o.stateDir, "sesman.ini");
    const orphans = allProcesses().filter(
      (p) =>
        (p.command === "xrdp" && p.args.some((a) => a.startsWith(serversDir))) || (p.command === "xrdp-sesman" && p.args.includes(sesman)),
    );
    for (const p of orphans) {
      try {
        process.kill(p.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    return orphans.length;
  }

  /** Stops every server (agent shutdown); their users are locked, nothing is destroyed. */
  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.socketWatch?.close();
    this.socketWatch = null;
    for (const s of [...this.servers.values()]) if (s.state !== "stopped") await this.stop(s.id, "agent-shutdown", false);
    this.stopSesman();
  }

  /** One report per running server: CPU, memory, disk and xrdp's I/O since the previous report. */
  reports(): ResourceReport[] {
    const processes = allProcesses();
    const cores = cpus().length;
    return [...this.servers.values()]
      .filter((s) => s.state === "listening")
      .map((s) => {
        const procs = this.processesOf(s, processes);
        const now = performance.now();
        const cpuSeconds = procs.reduce((a, p) => a + p.cpuSeconds, 0);
        const io = this.xrdpIoSplit(s, processes);
        const seconds = Math.max(0.001, (now - s.sample.at) / 1000);
        const kbps = (delta: number) => Math.max(0, Math.round((delta * 8) / 1000 / seconds));
        const report: ResourceReport = {
          kind: "resources",
          serverId: s.id,
          cpuPercent: cpuPercentOfHost(Math.max(0, cpuSeconds - s.sample.cpuSeconds), seconds, cores),
          memoryMb: procs.reduce((a, p) => a + p.rssMb, 0),
          diskMb: Math.round(directoryBytes(s.user.home) / 2 ** 20),
          rxKbps: kbps(io.rchar - s.sample.rchar),
          txKbps: kbps(io.wchar - s.sample.wchar),
        };
        s.sample = { at: now, cpuSeconds, ...io };
        return report;
      });
  }

  /**
   * The desktop's limits by the kernel: its cgroup's cpu.max, memory.max and pids.max (and xrdp in
   * it at once; the user's processes join on every poll), and the user's disk quota where the home's
   * file system has quotas. What cannot be enforced is said once in the log; the monitor's reports
   * still apply either way.
   */
  private enforceLimits(s: Server): void {
    if (this.o.cgroups) {
      try {
        this.o.cgroups.apply(s.id, s.limits);
        if (s.xrdp.pid) this.o.cgroups.adopt(s.id, [s.xrdp.pid]);
      } catch (error) {
        this.o.log(`server ${s.id}: cannot apply its cgroup limits: ${(error as Error).message}`);
      }
    }
    const disk = applyDiskQuota(s.user.name, s.user.home, s.limits.diskMb);
    if (!disk.enforced) this.o.log(`server ${s.id}: disk limit not enforced by the kernel (${disk.reason})`);
  }

  /** Bytes xrdp's processes (listener and the connection's child) have read and written. */
  private xrdpIoSplit(s: Server, processes: ProcessInfo[]): { rchar: number; wchar: number } {
    return processTree([s.xrdp.pid ?? -1], processes)
      .map((p) => ioBytes(p.pid))
      .reduce((a, b) => ({ rchar: a.rchar + b.rchar, wchar: a.wchar + b.wchar }), { rchar: 0, wchar: 0 });
  }

  private xrdpIo(s: Server, processes: ProcessInfo[]): number {
    const io = this.xrdpIoSplit(s, processes);
    return io.rchar + io.wchar;
  }

  /** The server's processes: xrdp (listener and connection children) and everything its user runs. */
  private processesOf(s: Server, processes: ProcessInfo[]): ProcessInfo[] {
    const tree = new Set(processTree([s.xrdp.pid ?? -1], processes).map((p) => p.pid));
    return processes.filter((p) => tree.has(p.pid) || p.uid === s.user.uid);
  }

  private poll(): void {
    // Our sesman may have died, or never bound its port because another agent's held it (two agents on one machine).
    if (this.running() > 0 && (!this.sesman || this.sesman.exitCode !== null) && Date.now() - this.sesmanStartedAt > 3000)
      this.ensureSesman();
    const processes = allProcesses();
    for (const s of this.servers.values()) {
      if (s.state !== "listening") continue;
      const session = sessionDisplay(s.user.uid, processes);
      if (session && session.display !== s.display) {
        s.display = session.display;
        this.o.log(`server ${s.id}: session display ${s.display} (${s.user.name})`);
      }
      if (!session && s.display) {
        s.display = null;
        this.closeGate(s.user.name);
      }
      this.feedRecorder(s);
      // Processes the user's session started since the last poll (sesman forks them) join the desktop's cgroup.
      this.o.cgroups?.adopt(
        s.id,
        this.processesOf(s, processes).map((p) => p.pid),
      );

      const io = this.xrdpIo(s, processes);
      if (io - s.lastIoBytes > (this.o.activityBytes ?? 512)) s.lastActiveAt = Date.now();
      s.lastIoBytes = io;

      const clients = establishedClients(s.port);
      let next: ConnectionState | null = s.connection;
      if (clients.length > 0 && !s.display) next = "connecting";
      else if (clients.length > 0) {
        const fresh = s.connection === null || s.connection === "connecting" || s.connection === "disconnected";
        next = fresh ? "connected" : Date.now() - s.lastActiveAt < (this.o.idleSeconds ?? 60) * 1000 ? "active" : "idle";
      } else if (s.connection !== null && s.connection !== "disconnected") next = "disconnected";
      if (next !== s.connection && next !== null) {
        s.connection = next;
        this.emit({ kind: "connection", serverId: s.id, state: next, ...(clients[0] ? { client: clients[0] } : {}) });
      }
    }
  }

  /** The desktops of running servers whose user is logged in. */
  desktops(): (DesktopTarget & { serverId: string })[] {
    return [...this.servers.values()]
      .filter((s) => s.state === "listening" && s.display)
      .map((s) => ({ serverId: s.id, ...this.desktopOf(s) }));
  }

  private desktopOf(s: Server): DesktopTarget {
    return { display: s.display!, xauthority: join(s.user.home, ".Xauthority") };
  }

  /**
   * Follows the emergency controls: with writes held (lockdown) the recorders keep recording into
   * the spool but hold their uploads, and sessions not yet started on the server wait; with
   * recordings halted every recorder stops cleanly (open chunk sealed, spool kept) and none starts.
   * Lifting either lets the poll loop restart recorders, which upload what was spooled.
   */
  async applyEmergency(policy: EmergencyPolicy): Promise<void> {
    const before = this.policy;
    this.policy = { ...policy };
    if (policy.writesHeld !== before.writesHeld) {
      for (const s of this.servers.values()) this.control(s, policy.writesHeld ? "uploads pause" : "uploads resume");
    }
    if (policy.recordingsHalted) {
      for (const s of [...this.servers.values()]) {
        if (s.recorder && s.recorder.exitCode === null) await this.stopRecorder(s, "recordings halted");
      }
    }
  }

  /** A line to a running recorder's control stdin. */
  private control(s: Server, line: string): void {
    if (s.recorder && s.recorder.exitCode === null && s.recorder.stdin?.writable) s.recorder.stdin.write(line + "\n");
  }

  /** Seals the open chunk and ends the recorder without draining uploads: the spool keeps every chunk. */
  private async stopRecorder(s: Server, why: string): Promise<void> {
    const recorder = s.recorder!;
    await Promise.race([s.recorderReady, wait(15_000)]);
    this.control(s, "uploads pause");
    recorder.kill("SIGTERM");
    await Promise.race([new Promise((r) => (recorder.exitCode !== null ? r(null) : recorder.once("exit", r))), wait(30_000)]);
    this.o.log(`server ${s.id}: recording stopped (${why}); the open chunk is sealed and the spool kept`);
  }

  /** Hands the session's display to the waiting recorder, or starts a new recorder if the last one ended. */
  private feedRecorder(s: Server): void {
    const recorder = s.recorder;
    if (!recorder || recorder.exitCode !== null || recorder.signalCode !== null) {
      if (this.policy.recordingsHalted) return; // none starts until the halt is lifted
      if (!s.recordStarting && Date.now() - s.lastArmAt >= s.armBackoffMs) void this.arm(s);
      return;
    }
    if (s.display && s.recorderDisplay === null) {
      s.recorderDisplay = s.display;
      recorder.stdin!.write(`${s.display}\n`);
      this.o.log(`server ${s.id}: recording ${s.display}`);
    }
  }

  /**
   * Starts the server's recorder ahead of the login, into STATE/spool/<sessionId> (the same spool
   * after a restart): node, the addon, the seal workers and the session key are ready before the
   * display exists, which then only has to be written to its stdin.
   */
  private async arm(s: Server): Promise<void> {
    if (s.state !== "listening" || s.recordStarting || this.policy.recordingsHalted) return;
    s.recordStarting = true;
    s.lastArmAt = Date.now();
    const out = join(this.o.stateDir, "spool", s.sessionId);
    const args = [
      this.o.agentBin,
      "record",
      "--display",
      "-",
      "--out",
      out,
      "--session",
      s.sessionId,
      "--fps",
      String(this.o.recordFps ?? 10),
    ];
    if (this.o.recordChunkSeconds) args.push("--chunk-seconds", String(this.o.recordChunkSeconds));
    // What of the user's input is recorded beside the pixels: the session's policy, chosen at creation.
    if (s.config.interaction && s.config.interaction !== "none") args.push("--interaction", s.config.interaction);
    const env: NodeJS.ProcessEnv = { ...process.env, XAUTHORITY: join(s.user.home, ".Xauthority") };
    if (this.o.upload) {
      let firstIndex: number | null;
      try {
        const keyFile = join(out, "session.key");
        if (!existsSync(keyFile)) {
          const key = await sessionKeyHex(this.o.upload, s.sessionId); // the key exists from creation: no state change
          mkdirSync(out, { recursive: true, mode: 0o700 });
          writeSecretFile(keyFile, key + "\n");
        }
        // A session handed over from another host continues after that host's chunks: wait until it said how many.
        firstIndex = await firstChunkIndex(this.o.upload, s.sessionId);
      } catch (error) {
        this.o.log(`server ${s.id}: ${(error as Error).message}; retrying`);
        setTimeout(() => (s.recordStarting = false), 5000);
        return;
      }
      if (firstIndex === null) {
        this.o.log(`server ${s.id}: waiting for the previous host to declare its chunks`);
        setTimeout(() => (s.recordStarting = false), 1000);
        return;
      }
      args.push("--first-index", String(firstIndex));
      // The recorder moves the session to `recording` once capture has begun, i.e. at the login.
      // Uploads (and that start) are held while a lockdown refuses node writes; capture goes on.
      args.push("--server", this.o.upload.server, "--key-file", join(out, "session.key"), "--start-session", "--control-stdin");
      if (this.policy.writesHeld) args.push("--uploads-paused");
      env.LUCID_NODE_TOKEN = this.o.upload.credential.token;
    }
    s.recordStarting = false;
    if (s.state !== "listening" || this.policy.recordingsHalted) return;
    const child = spawn(process.execPath, [...RECORDER_NODE_FLAGS, ...args], { env, stdio: ["pipe", "ignore", "pipe"] });
    child.stdin!.on("error", () => {}); // it exited: its exit is handled below
    s.recorder = child;
    s.recorderDisplay = null;
    let ready: () => void = () => {};
    s.recorderReady = new Promise<void>((resolve) => (ready = resolve));
    let recorded = false;
    child.once("exit", (code, signal) => {
      ready();
      // A recorder that ends after recording (the user logged out) is replaced at once; one that fails
      // without recording (spool full, bad state) is retried ever more slowly.
      s.armBackoffMs = recorded || code === 0 ? 2000 : Math.min(60_000, s.armBackoffMs * 2);
      if (s.recorder === child) this.closeGate(s.user.name);
      if (s.state === "listening") this.o.log(`server ${s.id}: recorder exited (${signal ?? code})`);
    });
    let pending = "";
    child.stderr!.on("data", (data: Buffer) => {
      pending += data.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const sealed = /sealed (\d+) B, spooled/.exec(line);
        if (sealed) this.bytesRecorded += Number(sealed[1]);
        if (line.startsWith("waiting for the display") || line.startsWith("recording ")) ready();
        if (line.startsWith("first frame captured") && s.recorder === child && s.recorderDisplay) {
          recorded = true;
          this.openGate(s.user.name, s.recorderDisplay);
        }
        this.o.log(`server ${s.id} recorder: ${line}`);
      }
    });
    this.feedRecorder(s); // the display may exist already (a restarted recorder)
  }

  private gate(user: string): RecordingGate {
    return { file: join(this.o.gateDir ?? "/run/lucid-agent/gates", user), seconds: this.o.gateSeconds ?? 30 };
  }

  /** Lets the user's startwm.sh start the desktop on `display`: its first frame is recorded. */
  private openGate(user: string, display: string): void {
    const { file, seconds } = this.gate(user);
    try {
      const dir = join(file, "..");
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755); // root's alone to write; the session users read their own gate
      writeFileSync(file + ".tmp", display + "\n", { mode: 0o644 });
      renameSync(file + ".tmp", file); // startwm.sh never reads half a name
    } catch (error) {
      this.o.log(
        `cannot open the recording gate ${file} (${(error as Error).message}); ${user}'s desktop starts after its ${seconds} s wait`,
      );
    }
  }

  private closeGate(user: string): void {
    try {
      rmSync(this.gate(user).file, { force: true });
    } catch (error) {
      this.o.log(`cannot close the recording gate of ${user}: ${(error as Error).message}`);
    }
  }

  /** Polls at once when an X server creates (or removes) its socket, rather than on the next tick. */
  private watchSockets(): void {
    if (this.socketWatch) return;
    try {
      if (!existsSync(X11_SOCKETS)) {
        mkdirSync(X11_SOCKETS);
        chmodSync(X11_SOCKETS, 0o1777); // as an X server would make it
      }
      this.socketWatch = watch(X11_SOCKETS, () => {
        if (this.pollSoon) return;
        this.pollSoon = true;
        setImmediate(() => {
          this.pollSoon = false;
          this.poll();
        });
      });
      this.socketWatch.on("error", () => {
        this.socketWatch?.close();
        this.socketWatch = null; // the interval poll still finds displays, a little later
      });
    } catch (error) {
      this.o.log(`cannot watch ${X11_SOCKETS} (${(error as Error).message}); finding session displays by polling only`);
    }
  }

  private ensureSesman(): void {
    if (this.sesman && this.sesman.exitCode === null) return;
    mkdirSync("/run/xrdp/sockdir", { recursive: true });
    // systemd's xrdp unit normally makes this directory: sticky and world-writable for session sockets.
    chmodSync("/run/xrdp/sockdir", 0o3777);
    const ini = join(this.o.stateDir, "sesman.ini");
    mkdirSync(this.o.stateDir, { recursive: true });
    writeFileSync(ini, sesmanIni({ logFile: join(this.o.stateDir, "sesman.log"), displayOffset: this.o.displayOffset ?? 10 }));
    this.sesman = spawn("xrdp-sesman", ["-n", "-c", ini], { stdio: "ignore" });
    this.sesmanStartedAt = Date.now();
  }

  private stopSesman(): void {
    if (this.sesman && this.sesman.exitCode === null) this.sesman.kill("SIGTERM");
    this.sesman = null;
  }

  private emit(event: EventBody): void {
    this.o.onEvent(event);
  }
}
