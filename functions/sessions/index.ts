import { createApp } from "../openapi.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { nodeCredential } from "../middleware/node-credential.ts";
import { chunkRoutes } from "./chunks.ts";
import { evidenceRoutes } from "./evidence.ts";
import { handoverRoutes } from "./handover.ts";
import { holdRoutes } from "./hold.ts";
import { integrityRoutes } from "./integrity.ts";
import { packageRoutes } from "./package.ts";
import { shareRoutes } from "./shares.ts";
import { sessionRoutes } from "./routes.ts";
import { termRoutes } from "./terms.ts";

export { isChunkUpload } from "./ingest.ts";

/**
 * /api/v1/sessions: lifecycle, listing and search, chunk ingest, manifest, proofs and keys.
 * Callers are users (access tokens) or the session's node (node credential).
 */
const sessions = createApp();
sessions.use("*", nodeCredential(), async function requireCaller(c, next) {
  // Every sessions route needs a user or a node: answer 401 before validating anything.
  if (!c.get("node")) principalOf(c);
  await next();
});

/** One chained expression so the routes' types reach AppType (functions/client.ts). */
export const sessionsApp = sessions
  .route("/", sessionRoutes)
  .route("/", chunkRoutes)
  .route("/", termRoutes)
  .route("/", evidenceRoutes)
  .route("/", packageRoutes)
  .route("/", handoverRoutes)
  .route("/", integrityRoutes)
  .route("/", holdRoutes)
  .route("/", shareRoutes);
