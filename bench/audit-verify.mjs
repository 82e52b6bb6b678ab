#!/usr/bin/env node
// BENCH audit-verify: audit events per second through the hash-chain check that
// GET /api/v1/admin/audit/verify runs (shared/audit.ts: canonical JSON + noble SHA-256 per event,
// link by link) against a baseline of hashing the same events' plain JSON.stringify bytes with
// node:crypto (no canonical encoding, no links checked), same run, same events.
// Run: `npm run bench -- audit-verify`.
import { createHash } from "node:crypto";
import { AUDIT_GENESIS_HASH, auditEventHash, findAuditChainBreak } from "../shared/audit.ts";

const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function makeChain(n) {
  const events = [];
  let prev = AUDIT_GENESIS_HASH;
  for (let id = 1; id <= n; id++) {
    const fields = {
      id,
      at: 1_795_000_000_000 + id,
      action: id % 3 ? "auth.login" : "admin.config_update",
      outcome: id % 7 ? "success" : "failure",
      actorId: `user-${id % 101}`,
      targetId: `target-${id % 37}`,
      ip: `198.51.100.${id % 250}`,
      requestId: `req-${id}`,
      details: { method: "tron", sessionId: `s-${id}`, evicted: [] },
      before: id % 3 ? null : { healthAlertAfterFailures: 2, lockdownMessage: "x" },
      after: id % 3 ? null : { healthAlertAfterFailures: 3, lockdownMessage: "y" },
    };
    const hash = auditEventHash(fields, prev);
    events.push({ ...fields, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}

function rate(fn, count) {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const started = performance.now();
    fn();
    best = Math.max(best, count / ((performance.now() - started) / 1000));
  }
  return best;
}

const events = makeChain(EVENTS);
const ours = rate(() => {
  if (findAuditChainBreak(events, AUDIT_GENESIS_HASH, 1) !== null) throw new Error("the bench chain does not verify");
}, EVENTS);
const baseline = rate(() => {
  for (const event of events) createHash("sha256").update(JSON.stringify(event)).digest("hex");
}, EVENTS);
console.log(`verified ${EVENTS} events, best of ${ROUNDS}`);
console.log(
  `BENCH audit-verify ours=${ours.toFixed(0)} baseline=${baseline.toFixed(0)} ratio=${(ours / baseline).toFixed(3)} unit=events/s`,
);
