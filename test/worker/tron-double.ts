import { inject } from "vitest";
import type {} from "../tron-double/global-setup.ts";

/** Talks to the TRON double's control API (test/tron-double/server.ts) from inside workerd. */
export async function double<T = Record<string, any>>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(`${inject("tronDoubleUrl")}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`double ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export const produce = (blocks: number) => double<{ number: number }>("/__double/produce", { blocks });
export const fund = (address: string, amounts: { trx?: bigint; usdt?: bigint }) =>
  double("/__double/fund", { address, trx: amounts.trx?.toString(), usdt: amounts.usdt?.toString() });
export const inspect = (address: string) =>
  double<{
    trx: string;
    usdt: string;
    frozenEnergy: string;
    transfersIn: { txID: string; amount: string }[];
    transfersOut: { txID: string; to: string; amount: string }[];
  }>("/__double/inspect", { address });
export const fault = (f: { path: string; kind: "timeout" | "error5xx" | "lost-response"; times?: number; match?: string }) =>
  double("/__double/fault", f);
export const broadcasts = () => double<{ attempts: Record<string, number> }>("/__double/broadcasts");
export const burn = (address: string, usdt: bigint) => double("/__double/burn", { address, usdt: usdt.toString() });
export const clearFaults = (match?: string) => double("/__double/clear-faults", match ? { match } : {});
/** Moves chain time forward (the next block's timestamp). Only ledger.test.ts uses it, so no other file's transactions expire by surprise. */
export const advanceTime = (ms: number) => double("/__double/advance-time", { ms });
