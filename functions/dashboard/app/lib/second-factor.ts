/**
 * The second factor a privileged form carries (emergency controls, a role change that touches
 * ADMIN, a payout approval): 6 digits are a TOTP code, anything else a recovery code. The server checks it on
 * every such request (functions/admin/step-up.ts); each code works once.
 */
export function secondFactor(code: string): { totpCode: string } | { recoveryCode: string } {
  const value = code.trim();
  return /^\d{6}$/.test(value) ? { totpCode: value } : { recoveryCode: value };
}
