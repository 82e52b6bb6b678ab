import { secp256k1 } from "@noble/curves/secp256k1.js";
import { env } from "cloudflare:workers";
import type { Env } from "../../platform/env.ts";
import { expect, vi } from "vitest";
import { addressFromPrivateKey, signMessageV2 } from "../../shared/tron/message-signature.ts";
import { totpCode } from "../../shared/totp.ts";
import { api } from "./helpers.ts";

/** The Worker's bindings, typed (cloudflare:workers' `env` does not pick up platform/env.ts here). */
export const testEnv = env as unknown as Env;

/** The key whose address vitest.config.ts names BOOTSTRAP_SUPER_ADMIN_ADDRESS. */
export const BOOTSTRAP_KEY = (() => {
  const key = new Uint8Array(32);
  key[31] = 2;
  return key;
})();

export interface Wallet {
  key: Uint8Array;
  address: string;
}

export function newWallet(): Wallet {
  const key = secp256k1.utils.randomSecretKey();
  return { key, address: addressFromPrivateKey(key) };
}

export function walletOf(key: Uint8Array): Wallet {
  return { key, address: addressFromPrivateKey(key) };
}

export function postJson(path: string, body: unknown, init: { token?: string; ip?: string; method?: string } = {}) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  return api(path, { method: init.method ?? "POST", headers, body: JSON.stringify(body), ip: init.ip });
}

export function getAuthed(path: string, token: string, method = "GET") {
  return api(path, { method, headers: { Authorization: `Bearer ${token}` } });
}

export async function challengeFor(address: string, ip?: string): Promise<{ message: string; nonce: string; expiresAt: string }> {
  const res = await postJson("/api/v1/auth/challenge", { address }, { ip });
  expect(res.status).toBe(200);
  return res.json();
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  user: { id: string; role: string; tronAddress: string | null };
  effectiveRole: string;
  secondFactor: string;
}

/** Challenge → sign → verify, returning the raw response. */
export async function attemptLogin(wallet: Wallet, extra: Record<string, unknown> = {}, ip?: string): Promise<Response> {
  const { message, nonce } = await challengeFor(wallet.address, ip);
  return postJson(
    "/api/v1/auth/verify",
    { address: wallet.address, nonce, signature: signMessageV2(message, wallet.key), ...extra },
    { ip },
  );
}

export async function login(wallet: Wallet, extra: Record<string, unknown> = {}, ip?: string): Promise<Tokens> {
  const res = await attemptLogin(wallet, extra, ip);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Enrols TOTP for the holder of `token`; returns the secret and the recovery codes. */
export async function enrolTotp(token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const enrol = await postJson("/api/v1/auth/totp/enrol", {}, { token });
  expect(enrol.status).toBe(200);
  const { secret } = (await enrol.json()) as { secret: string };
  const confirm = await postJson("/api/v1/auth/totp/confirm", { code: totpCode(secret, Date.now() / 1000) }, { token });
  expect(confirm.status).toBe(200);
  const { recoveryCodes } = (await confirm.json()) as { recoveryCodes: string[] };
  return { secret, recoveryCodes };
}

/** A code for a step no earlier one used: the next step's (accepted as +1 drift). */
export function nextCode(secret: string, stepOffset = 1): string {
  return totpCode(secret, Date.now() / 1000 + 30 * stepOffset);
}

/**
 * A real SUPER_ADMIN session (bootstrap address, TOTP enrolled, then a login that passed its
 * second factor with one of the recovery codes). Created once per test file and reused.
 */
let superAdmin: Promise<Tokens & { totpSecret: string }> | undefined;
/** The SUPER_ADMIN's unused recovery codes and the last TOTP step this file spent (each step is usable once). */
const superAdminFactors = { recoveryCodes: [] as string[], lastStep: 0 };
export function superAdminLogin(): Promise<Tokens & { totpSecret: string }> {
  superAdmin ??= (async () => {
    const wallet = walletOf(BOOTSTRAP_KEY);
    const first = await login(wallet);
    expect(first.user.role).toBe("SUPER_ADMIN");
    expect(first.effectiveRole).toBe("USER");
    const { secret, recoveryCodes } = await enrolTotp(first.accessToken);
    superAdminFactors.lastStep = Math.floor(Date.now() / 30_000);
    const [loginCode, ...spare] = recoveryCodes;
    superAdminFactors.recoveryCodes = spare;
    const tokens = await login(wallet, { recoveryCode: loginCode });
    expect(tokens.effectiveRole).toBe("SUPER_ADMIN");
    return { ...tokens, totpSecret: secret };
  })();
  return superAdmin;
}

/**
 * A second factor of the SUPER_ADMIN for one privileged request (granting ADMIN, …): one of their
 * recovery codes; when those run out, 10 fresh ones from POST /auth/totp/recovery-codes with the
 * next unspent TOTP step (waiting for it only if this file already spent the step after now).
 */
export async function superAdminFactor(): Promise<{ recoveryCode: string }> {
  const sa = await superAdminLogin();
  if (superAdminFactors.recoveryCodes.length === 0) {
    const step = superAdminFactors.lastStep + 1;
    // A code is accepted up to one step ahead of the clock.
    await vi.waitFor(
      () => {
        if (Math.floor(Date.now() / 30_000) + 1 < step) throw new Error(`waiting for TOTP step ${step}`);
      },
      { timeout: 35_000, interval: 250 },
    );
    superAdminFactors.lastStep = step;
    const res = await postJson(
      "/api/v1/auth/totp/recovery-codes",
      { totpCode: totpCode(sa.totpSecret, step * 30) },
      { token: sa.accessToken },
    );
    expect(res.status).toBe(200);
    superAdminFactors.recoveryCodes = ((await res.json()) as { recoveryCodes: string[] }).recoveryCodes;
  }
  return { recoveryCode: superAdminFactors.recoveryCodes.shift()! };
}

const ADMIN_ROLES = ["ADMIN", "SUPER_ADMIN"];

/** The SUPER_ADMIN changes `userId`'s role (with a second factor when the change grants or removes ADMIN). */
export async function grantRole(
  userId: string,
  role: "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN",
  from?: string,
): Promise<Response> {
  const sa = await superAdminLogin();
  const current = from ?? ((await (await getAuthed(`/api/v1/users/${userId}`, sa.accessToken)).json()) as { role: string }).role;
  const factor = ADMIN_ROLES.includes(role) || ADMIN_ROLES.includes(current) ? await superAdminFactor() : {};
  return postJson(`/api/v1/users/${userId}/role`, { role, ...factor }, { token: sa.accessToken, method: "PUT" });
}

/** A user (fresh wallet) with `role`, granted by the SUPER_ADMIN; returns their wallet and id. */
export async function userWithRole(
  role: "USER" | "NODE_OPERATOR" | "ADMIN" | "SUPER_ADMIN",
): Promise<{ wallet: Wallet; id: string; tokens: Tokens }> {
  const wallet = newWallet();
  const tokens = await login(wallet);
  if (role !== "USER") expect((await grantRole(tokens.user.id, role, "USER")).status).toBe(200);
  return { wallet, id: tokens.user.id, tokens };
}

/** The newest mail the dev outbox holds for `to` whose subject matches, waiting for it (mail is sent after the answer). */
export async function mailTo(to: string, subject: RegExp = /./): Promise<{ to: string; subject: string; text: string }> {
  const outbox = testEnv.MAIL_OUTBOX.get(testEnv.MAIL_OUTBOX.idFromName("outbox"));
  return vi.waitFor(
    async () => {
      const found = (await outbox.list(200)).find((m) => m.to === to && subject.test(m.subject));
      if (!found) throw new Error(`no mail to ${to} matching ${subject}`);
      return found;
    },
    { timeout: 5000, interval: 50 },
  );
}

/** Sets the caller's email the way a user does: PATCH /users/me, then the mailed confirmation token. */
export async function setEmail(accessToken: string, email: string): Promise<void> {
  const patch = await postJson("/api/v1/users/me", { email }, { token: accessToken, method: "PATCH" });
  expect(patch.status).toBe(200);
  const mail = await mailTo(email.toLowerCase(), /^Confirm/);
  const token = /\n\n([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\n\n/.exec(mail.text)?.[1];
  if (!token) throw new Error("no confirmation token in the mail");
  const confirm = await postJson("/api/v1/users/me/email/confirm", { token }, { token: accessToken });
  expect(confirm.status).toBe(200);
}
