import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { logEvent } from "../../shared/log.ts";
import { raiseAlert } from "../admin/alerts.ts";
import { auditAdmin } from "../admin/context.ts";
import { requireSecondFactor } from "../admin/step-up.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { ledger } from "./ledger.ts";

/**
 * A key export carries a fresh TOTP code of the caller's own authenticator; a recovery code is not
 * accepted here (it is for a lost device, not for taking every hot key out).
 */
export const BackupRequest = z
  .object({
    passphrase: z.string().min(12).max(1024),
    totpCode: z.string().regex(/^\d{6}$/, "must be 6 digits"),
  })
  .strict()
  .openapi("WalletBackupRequest");

/**
 * Exports every wallet, hot keys re-encrypted under the caller's passphrase. The route's guards
 * have already checked SUPER_ADMIN against the caller's current role and live session and spent
 * one of the per-user attempts (functions/payments/index.ts); here the step-up is checked (and
 * throttled), the export is audited in the hash-chained audit log, and every admin is alerted.
 */
export async function exportKeys(c: Context<AppEnv>, input: z.infer<typeof BackupRequest>) {
  const actor = principalOf(c).userId;
  await requireSecondFactor(c, "wallets.backup_export", { totpCode: input.totpCode }, "wallets");
  const backup = await ledger(c, "exportBackup", (s) => s.exportBackup(input.passphrase, actor));
  await auditAdmin(c, {
    action: "wallets.backup_export",
    outcome: "success",
    targetId: "wallets",
    details: { sessionId: principalOf(c).sessionId ?? null },
  });
  try {
    await raiseAlert(c.env, {
      key: "wallets:backup-export",
      severity: "warning",
      source: "payments",
      title: "Hot-wallet keys were exported",
      detail: `SUPER_ADMIN ${actor} exported every wallet (request ${c.get("requestId")}). If this was not planned, rotate the hot wallets.`,
    });
  } catch (error) {
    // The export is audited; a missing alert must not hide that it happened, so log it loudly.
    logEvent("error", "wallets.backup_export_alert_failed", { actor, error: String(error) });
  }
  return backup;
}
