/**
 * Signed heartbeats to POST /api/v1/nodes/{id}/heartbeats (functions/nodes/heartbeats.ts): a
 * report of the host's load from /proc, signed with the node's Ed25519 key over the canonical
 * message of shared/nodes/protocol.ts. One beat on start, then every `nextHeartbeatSeconds` the
 * pool answers (60 s by default). Each beat signs the single-use challenge the pool handed out
 * with the previous accepted beat (protocol v2); on start the agent asks for the current one
 * (GET /api/v1/nodes/{id}/heartbeat-challenge), and a beat refused for a stale challenge adopts
 * the one the refusal carries. Failures that may pass (network, 5xx, 429) are retried with
 * capped back-off; a replayed, out-of-order or out-of-window sequence is re-synchronised from the
 * pool's `lastSeq`; a refused credential or a suspended/terminated node ends the loop with an error.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { cpus } from "node:os";
import { heartbeatMessage, type Report } from "../../../shared/nodes/protocol.ts";
import { sleep } from "../sleep.ts";
import { cpuJiffies, diskUse, memoryUse, networkBytes } from "./proc-stats.ts";
import { loadSeq, saveSeq, type NodeState } from "./state.ts";

/** The pool will not take beats from this node any more (revoked credential, suspended, terminated). */
export class HeartbeatRefusedError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
    this.name = "HeartbeatRefusedError";
  }
}

/** What the rest of the agent tells the heartbeat about its work. */
export interface WorkCounters {
  sessionsHosted(): number;
  /** Bytes recorded since the last call (the heartbeat takes them; a failed beat gives them back). */
  takeBytesRecorded(): number;
  giveBackBytesRecorded(bytes: number): void;
  accepting(): boolean;
  /** The agent's own services as it sees them now (the server derives recorder/chunk processor/XRDP health from them). */
  services?(): NonNullable<Report["services"]>;
}

/** Host load between two samples, as the heartbeat report's whole percentages and Mbit/s. */
export class HostSampler {
  private cpu = cpuJiffies();
  private net = { ...networkBytes(), at: performance.now() };

  private readonly diskPath: string;

  constructor(diskPath: string) {
    this.diskPath = diskPath;
  }

  sample(work: { sessionsHosted: number; bytesRecorded: number; accepting: boolean; services?: Report["services"] }): Report {
    const cpu = cpuJiffies();
    const busy = cpu.total - this.cpu.total - (cpu.idle - this.cpu.idle);
    const cpuPercent = cpu.total > this.cpu.total ? Math.round((busy / (cpu.total - this.cpu.total)) * 100) : 0;
    this.cpu = cpu;
    const net = { ...networkBytes(), at: performance.now() };
    const seconds = Math.max(0.001, (net.at - this.net.at) / 1000);
    const networkMbps = Math.round(((net.rx - this.net.rx + (net.tx - this.net.tx)) * 8) / seconds / 1e6);
    this.net = net;
    const memory = memoryUse();
    return {
      cpuPercent: Math.max(0, Math.min(100, cpuPercent)),
      memoryPercent: memory.totalMb > 0 ? Math.min(100, Math.round((memory.usedMb / memory.totalMb) * 100)) : 0,
      diskPercent: Math.min(100, diskUse(this.diskPath).usedPercent),
      networkMbps: Math.max(0, networkMbps),
      sessionsHosted: work.sessionsHosted,
      bytesRecorded: Math.min(work.bytesRecorded, 1_000_000_000_000),
      accepting: work.accepting,
      ...(work.services ? { services: work.services } : {}),
    };
  }
}

/** The host's declared resources for registration: cores and memory from the OS, disk of `path`. */
export function hostResources(path: string, bandwidthMbps: number) {
  return {
    cpuCores: cpus().length,
    memoryMb: memoryUse().totalMb,
    diskGb: Math.floor(diskUse(path).totalMb / 1024),
    bandwidthMbps,
  };
}

export type HeartbeatEvent =
  | { kind: "accepted"; seq: number; state: string; nextSeconds: number }
  | { kind: "retry"; seq: number; reason: string; delayMs: number }
  | { kind: "resync"; from: number; to: number }
  | { kind: "challenge"; reason: "fetched" | "refused" }
  | { kind: "held"; held: boolean };

export interface HeartbeaterOptions {
  state: NodeState;
  stateDir: string;
  work: WorkCounters;
  /** Overrides the pool's nextHeartbeatSeconds (tests, operators). */
  intervalSeconds?: number;
  minBackoffMs?: number;
  /** True while the server refuses node writes (an emergency lockdown): beats wait instead of being refused. */
  held?: () => boolean;
  onEvent?: (event: HeartbeatEvent) => void;
}

export class Heartbeater {
  private readonly sampler: HostSampler;
  private readonly secretKey: Uint8Array;
  private seq: number;
  beatsAccepted = 0;

  private readonly o: HeartbeaterOptions;

  constructor(options: HeartbeaterOptions) {
    this.o = options;
    const o = options;
    this.sampler = new HostSampler(o.stateDir);
    this.secretKey = hexToBytes(o.state.secretKey);
    this.seq = loadSeq(o.stateDir);
  }

  /** Beats until `signal` aborts; throws HeartbeatRefusedError when the pool refuses this node for good. */
  async run(signal: AbortSignal): Promise<void> {
    const intervalMs = () => (this.o.intervalSeconds ?? this.serverInterval) * 1000;
    let failures = 0;
    let holding = false;
    while (!signal.aborted) {
      if (this.o.held?.()) {
        if (!holding) this.o.onEvent?.({ kind: "held", held: (holding = true) });
        await sleep(500, signal);
        continue;
      }
      if (holding) this.o.onEvent?.({ kind: "held", held: (holding = false) });
      const outcome = await this.beat(signal);
      if (signal.aborted) return;
      if (outcome.ok) {
        failures = 0;
        await sleep(intervalMs(), signal);
      } else if (outcome.resyncNow) {
        continue;
      } else {
        failures++;
        const cap = intervalMs();
        const base = Math.min(cap, (this.o.minBackoffMs ?? 1000) * 2 ** Math.min(failures - 1, 16));
        const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
        this.o.onEvent?.({ kind: "retry", seq: this.seq, reason: outcome.reason, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }

  private serverInterval = 60;
  /** The pool's challenge for the next beat; null until fetched (start) or after it was lost. */
  private challenge: string | null = null;

  private get credentialHeaders(): Record<string, string> {
    return { [this.o.state.credential.header]: this.o.state.credential.token };
  }

  /** Asks the pool for the current challenge (and its last accepted seq, to continue after it). */
  private async fetchChallenge(
    signal: AbortSignal,
  ): Promise<{ ok: true } | { ok: false; reason: string; status?: number; detail?: string }> {
    const url = new URL(`/api/v1/nodes/${encodeURIComponent(this.o.state.nodeId)}/heartbeat-challenge`, this.o.state.server);
    let res: Response;
    try {
      res = await fetch(url, { headers: this.credentialHeaders, signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) });
    } catch (error) {
      return { ok: false, reason: (error as Error).cause ? String((error as Error).cause) : (error as Error).message };
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 200 && typeof body.challenge === "string") {
      this.challenge = body.challenge;
      if (typeof body.lastSeq === "number" && body.lastSeq > this.seq) {
        this.o.onEvent?.({ kind: "resync", from: this.seq + 1, to: body.lastSeq + 1 });
        this.seq = body.lastSeq;
      }
      this.o.onEvent?.({ kind: "challenge", reason: "fetched" });
      return { ok: true };
    }
    const detail = String(body.detail ?? res.statusText);
    return { ok: false, reason: `HTTP ${res.status}: ${detail}`, status: res.status, detail };
  }

  private async beat(signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string; resyncNow?: boolean }> {
    if (this.challenge === null) {
      const fetched = await this.fetchChallenge(signal);
      if (!fetched.ok) {
        if (fetched.status === 401 || fetched.status === 403 || fetched.status === 404) {
          throw new HeartbeatRefusedError(`heartbeat refused (HTTP ${fetched.status}): ${fetched.detail}`, fetched.status);
        }
        return { ok: false, reason: fetched.reason };
      }
    }
    const challenge = this.challenge!;
    const bytes = this.o.work.takeBytesRecorded();
    // Never reuse a number: persist it before sending (a crash mid-request just skips one).
    const seq = Math.max(this.seq + 1, 1);
    this.seq = seq;
    saveSeq(this.o.stateDir, seq);
    const report = this.sampler.sample({
      sessionsHosted: this.o.work.sessionsHosted(),
      bytesRecorded: bytes,
      accepting: this.o.work.accepting(),
      services: this.o.work.services?.(),
    });
    const unsigned = { seq, challenge, sentAt: Date.now(), report };
    const signature = bytesToHex(ed25519.sign(heartbeatMessage(this.o.state.nodeId, unsigned), this.secretKey));
    const url = new URL(`/api/v1/nodes/${encodeURIComponent(this.o.state.nodeId)}/heartbeats`, this.o.state.server);
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...this.credentialHeaders },
        body: JSON.stringify({ ...unsigned, signature }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
      });
    } catch (error) {
      this.o.work.giveBackBytesRecorded(bytes);
      return { ok: false, reason: (error as Error).cause ? String((error as Error).cause) : (error as Error).message };
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 200) {
      this.beatsAccepted++;
      if (typeof body.nextHeartbeatSeconds === "number" && body.nextHeartbeatSeconds > 0) this.serverInterval = body.nextHeartbeatSeconds;
      this.challenge = typeof body.challenge === "string" ? body.challenge : null;
      this.o.onEvent?.({ kind: "accepted", seq, state: String(body.state), nextSeconds: this.o.intervalSeconds ?? this.serverInterval });
      return { ok: true };
    }
    this.o.work.giveBackBytesRecorded(bytes);
    const type = String(body.type ?? "");
    const detail = String(body.detail ?? res.statusText);
    if (type.endsWith("/heartbeat-challenge")) {
      // Another beat (or process) used the challenge, or we restarted with none: sign the current one.
      this.challenge = typeof body.challenge === "string" ? body.challenge : null;
      this.o.onEvent?.({ kind: "challenge", reason: "refused" });
      return { ok: false, reason: detail, resyncNow: this.challenge !== null };
    }
    const seqType = ["/heartbeat-replayed", "/heartbeat-out-of-order", "/heartbeat-seq-out-of-window"].some((t) => type.endsWith(t));
    if (seqType && typeof body.lastSeq === "number") {
      // Our counter fell behind the pool's (state restored from a backup, or lost): continue after its last.
      this.o.onEvent?.({ kind: "resync", from: seq, to: body.lastSeq + 1 });
      this.seq = body.lastSeq;
      return { ok: false, reason: detail, resyncNow: true };
    }
    if (res.status === 401 || res.status === 403 || res.status === 404 || type.endsWith("/node-state-conflict")) {
      throw new HeartbeatRefusedError(`heartbeat refused (HTTP ${res.status}): ${detail}`, res.status);
    }
    return { ok: false, reason: `HTTP ${res.status}: ${detail}` };
  }
}
