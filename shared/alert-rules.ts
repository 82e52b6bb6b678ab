/**
 * The alert rules (docs/admin.md "Alerts"): each rule owns a key prefix, so an alert's rule is
 * known from its key, and each has a Prometheus series `lucid_alerts_open{rule="…"}`
 * (docs/prometheus/alerts.yml). Condition rules are evaluated by AdminDO's monitor and resolve
 * themselves when the condition clears; event rules are raised where the event happens
 * (raiseAlert) and resolved there or by an admin.
 */
export const ALERT_RULES = [
  {
    rule: "chain_stalled",
    prefix: "chain:stalled",
    kind: "condition",
    what: "the chain owes blocks for alerts.chainStallSlots slots or more",
  },
  {
    rule: "tron_unavailable",
    prefix: "tron:unavailable",
    kind: "condition",
    what: "the TRON circuit breaker is open or the node does not answer the probe",
  },
  {
    rule: "payout_failed",
    prefix: "ledger:payout-failed:",
    kind: "event",
    what: "a payout failed (refused, failed on chain or timed out)",
  },
  {
    rule: "reconciliation_mismatch",
    prefix: "ledger:reconcile:",
    kind: "event",
    what: "a hot wallet's on-chain transfers differ from the ledger; resolved by the next clean reconciliation",
  },
  { rule: "node_offline", prefix: "node:offline:", kind: "condition", what: "a node stopped beating and its pool marked it offline" },
  {
    rule: "integrity_failure",
    prefix: "integrity:",
    kind: "event",
    what: "stored data failed an integrity check (raised with a key starting integrity:)",
  },
  {
    rule: "spool_full",
    prefix: "node:spool:",
    kind: "condition",
    what: "an online node's upload spool is at or above alerts.spoolFullPercent",
  },
  { rule: "lockdown", prefix: "emergency:lockdown", kind: "condition", what: "the emergency lockdown is engaged" },
] as const;

export type AlertRule = (typeof ALERT_RULES)[number]["rule"];

/** The rule an alert key belongs to; `other` for alerts outside the rules (health streaks, held payouts, …). */
export function ruleOf(key: string): AlertRule | "other" {
  return ALERT_RULES.find((r) => key === r.prefix || (r.prefix.endsWith(":") && key.startsWith(r.prefix)))?.rule ?? "other";
}

/** Webhook headers: `X-Lucid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = "X-Lucid-Signature";

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The signature header's value for `body` sent at `timestampSeconds`. */
export async function signWebhook(secret: string, timestampSeconds: number, body: string): Promise<string> {
  return `t=${timestampSeconds},v1=${await hmacHex(secret, `${timestampSeconds}.${body}`)}`;
}

/**
 * What a receiver does (and what the tests' receiver does): parse the header, refuse a timestamp
 * further than `toleranceSeconds` from now (replays), recompute the HMAC over `t.body` and compare.
 */
export async function verifyWebhook(
  secret: string,
  header: string | null,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): Promise<boolean> {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!match) return false;
  const t = Number(match[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = await hmacHex(secret, `${t}.${body}`);
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ match[2]!.charCodeAt(i);
  return diff === 0;
}
