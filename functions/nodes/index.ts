import { createApp } from "../openapi.ts";
import { lifecycleApp } from "./lifecycle.ts";
import { heartbeatsApp } from "./heartbeats.ts";
import { operatorsApp } from "./operators.ts";
import { payoutAddressApp } from "./payout-address.ts";
import { registrationApp } from "./registration.ts";

/** /api/v1/nodes: registration, heartbeats, operator and admin views (business rules live in NodePoolDO). */
export const nodesApp = createApp()
  .route("/", registrationApp)
  .route("/", heartbeatsApp)
  .route("/", operatorsApp)
  .route("/", payoutAddressApp)
  .route("/", lifecycleApp);
