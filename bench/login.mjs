#!/usr/bin/env node
// Logins verified per second: what POST /api/v1/auth/verify computes per login (TIP-191 hash,
// secp256k1 public-key recovery, address derivation, access-token signing, refresh secret),
// against a baseline of one bare secp256k1 signature verification with a known public key.
// Run: `npx node bench/login.mjs` (Node 22 strips the TypeScript of shared/).
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { JwtKeyring } from "../shared/jwt.ts";
import { addressFromPrivateKey, hashMessageV2, recoverMessageV2Signer, signMessageV2 } from "../shared/tron/message-signature.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);

async function measure(label, fn) {
  for (let i = 0; i < 50; i++) await fn(i); // warm-up (JIT, precomputed tables)
  let ops = 0;
  const started = performance.now();
  while (performance.now() - started < DURATION_MS) await fn(ops++);
  const seconds = (performance.now() - started) / 1000;
  const rate = ops / seconds;
  console.log(`# ${label}: ${ops} ops in ${seconds.toFixed(2)} s = ${rate.toFixed(0)}/s`);
  return rate;
}

const key = secp256k1.utils.randomSecretKey();
const address = addressFromPrivateKey(key);
const messages = Array.from(
  { length: 64 },
  (_, i) =>
    `lucid.test wants you to sign in to Lucid with your TRON account:\n${address}\n\nNonce: ${i.toString(16).padStart(32, "0")}\nIssued At: 2026-11-25T19:00:00.000Z\nExpiration Time: 2026-11-25T19:05:00.000Z`,
);
const signatures = messages.map((m) => signMessageV2(m, key));
const hashes = messages.map((m) => hashMessageV2(m));
const compact = messages.map((m, i) => secp256k1.sign(hashes[i], key, { prehash: false }));
const publicKey = secp256k1.getPublicKey(key);
const keyring = await JwtKeyring.create("bench-secret-0123456789abcdef0123456789abcdef");

const baseline = await measure("baseline: bare secp256k1.verify", (i) => {
  const n = i % 64;
  if (!secp256k1.verify(compact[n], hashes[n], publicKey, { prehash: false })) throw new Error("verify failed");
});

const ours = await measure("ours: recover signer + compare + sign access token + refresh secret", async (i) => {
  const n = i % 64;
  if (recoverMessageV2Signer(messages[n], signatures[n]) !== address) throw new Error("recover failed");
  const now = Math.floor(Date.now() / 1000);
  await keyring.sign({ sub: "2b1f0c5e-0000-4000-8000-000000000000", role: "USER", sid: "s", typ: "access", iat: now, exp: now + 900 });
  crypto.getRandomValues(new Uint8Array(32));
});

console.log(`BENCH login ours=${ours.toFixed(0)} baseline=${baseline.toFixed(0)} ratio=${(ours / baseline).toFixed(3)} unit=logins_per_s`);
