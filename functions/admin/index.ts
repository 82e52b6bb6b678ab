import { createApp } from "../openapi.ts";
import { alertsApp } from "./alerts.ts";

export { raiseAlert } from "./alerts.ts";

/**
 * /api/v1/admin: the administration API (seed service 21). Every route needs ADMIN+ (see each
 * route's x-permission); every change is audited with before/after; emergency controls also
 * need a fresh TOTP code.
 */
export const adminApp = createApp().route("/", alertsApp);
