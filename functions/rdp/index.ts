import { principalOf } from "../middleware/authenticate.ts";
import { createApp } from "../openapi.ts";
import { channelApp } from "./channel.ts";
import { rdpRoutes } from "./routes.ts";

/**
 * /api/v1/rdp: the RDP control plane (seed services 16, 18, 19). The agent's channel
 * authenticates with its node credential; every other route needs a user's access token.
 */
const rdp = createApp().route("/", channelApp);
rdp.use("*", async function requireUser(c, next) {
  principalOf(c);
  await next();
});

/** Chained after the middleware so the routes' types reach AppType (functions/client.ts). */
export const rdpApp = rdp.route("/", rdpRoutes);
