import { createApp } from "../openapi.ts";
import { adminApp } from "./admin.ts";
import { heartbeatsApp } from "./heartbeats.ts";
import { operatorsApp } from "./operators.ts";
import { registrationApp } from "./registration.ts";

/** /api/v1/nodes: registration, heartbeats, operator and admin views (business rules live in NodePoolDO). */
export const nodesApp = createApp()
  .route("/", registrationApp)
  .route("/", heartbeatsApp)
  .route("/", operatorsApp)
  .route("/", adminApp);
