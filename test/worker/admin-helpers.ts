import { expect } from "vitest";
import { enrolTotp, login, nextCode, postJson, userWithRole, type Tokens } from "./auth-helpers.ts";
import { api } from "./helpers.ts";

/**
 * A real ADMIN session that passed its second factor, with TOTP enrolled. The login spends a
 * recovery code, so the TOTP step after enrolment is still free for one emergency request
 * (`totp()`); later requests use the remaining recovery codes (`recovery()`).
 */
export async function steppedUpAdmin(role: "ADMIN" | "SUPER_ADMIN" = "ADMIN") {
  const { wallet, id, tokens: first } = await userWithRole(role);
  // The role was granted after this login: log in again to carry it (still USER until TOTP).
  const relogin = await login(wallet);
  expect(relogin.effectiveRole).toBe("USER");
  const { secret, recoveryCodes } = await enrolTotp(relogin.accessToken);
  const [loginCode, ...spare] = recoveryCodes;
  const tokens: Tokens = await login(wallet, { recoveryCode: loginCode });
  expect(tokens.effectiveRole).toBe(role);
  let totpUsed = false;
  return {
    id,
    wallet,
    token: tokens.accessToken,
    firstToken: first.accessToken,
    /** The one TOTP code still unused (the next step's). */
    totp(): { totpCode: string } {
      if (totpUsed) throw new Error("the free TOTP step is spent; use recovery()");
      totpUsed = true;
      return { totpCode: nextCode(secret) };
    },
    recovery(): { recoveryCode: string } {
      const code = spare.shift();
      if (!code) throw new Error("out of recovery codes");
      return { recoveryCode: code };
    },
  };
}

export function adminGet(path: string, token?: string) {
  return api(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

export function adminSend(method: string, path: string, body: unknown, token?: string) {
  return postJson(path, body, { token, method });
}
