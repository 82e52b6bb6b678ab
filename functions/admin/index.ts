import { createApp } from "../openapi.ts";
import { alertsApp } from "./alerts.ts";
import { auditLogApp } from "./audit-log.ts";
import { configApp } from "./config.ts";
import { emergencyApp } from "./emergency.ts";
import { integrityApp } from "./integrity.ts";
import { operationsApp } from "./operations.ts";

export { raiseAlert } from "./alerts.ts";
export { notificationsApp } from "./notifications.ts";

/**
 * /api/v1/admin: the administration API (seed service 21). Every route needs ADMIN+ (see each
 * route's x-permission); every change is audited with before/after; emergency controls also
 * need a fresh TOTP code.
 */
export const adminApp = createApp()
  .route("/", alertsApp)
  .route("/", auditLogApp)
  .route("/", emergencyApp)
  .route("/", configApp)
  .route("/", operationsApp)
  .route("/", integrityApp);
