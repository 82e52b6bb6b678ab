import { z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { RegistrationSchema, registrationMessage, resourceShortfalls, type Resources } from "../../shared/nodes/protocol.ts";
import { skewRefusal, verifySignature } from "../../shared/nodes/verify.ts";
import type { Config } from "../../shared/config.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonBody, routesTagged } from "../openapi.ts";
import { directory, pool } from "./access.ts";
import { unwrap } from "../../shared/outcome.ts";
import { NODE_CREDENTIAL_HEADER, newCredential, signNodeCredential } from "./credential.ts";
import { CredentialSchema, NodeSchema } from "./schemas.ts";

const route = routesTagged("nodes");

export function minimumResources(config: Config): Resources {
  return {
    cpuCores: config.NODE_MIN_CPU_CORES,
    memoryMb: config.NODE_MIN_MEMORY_MB,
    diskGb: config.NODE_MIN_DISK_GB,
    bandwidthMbps: config.NODE_MIN_BANDWIDTH_MBPS,
  };
}

const registerNode = route(
  "POST /",
  "Register a node (NODE_OPERATOR): the request is signed by the node's Ed25519 key",
  guarded("nodes:register"),
  {
    201: {
      description: "Registered; the credential is shown once",
      content: {
        "application/json": { schema: z.object({ node: NodeSchema, credential: CredentialSchema, heartbeatChallenge: z.string() }) },
      },
    },
  },
  [400, 401, 403, 404, 409, 413, 415, 429],
  {
    description:
      "`signature` is Ed25519 over the canonical JSON of {kind:'lucid.node.register.v1', operatorId, publicKey, payoutAddress, " +
      "resources, timestamp}; `timestamp` (ms) must be within HEARTBEAT_MAX_SKEW_SECONDS of the server's clock. " +
      "`heartbeatChallenge` is what the first heartbeat must sign.",
    request: { body: jsonBody(RegistrationSchema) },
  },
);

export const registrationApp = createApp().openapi(registerNode, async (c) => {
  const config = c.get("config");
  const operatorId = principalOf(c).userId;
  const body = c.req.valid("json");

  const shortfalls = resourceShortfalls(body.resources, minimumResources(config));
  if (shortfalls.length > 0) {
    const names = shortfalls.map((s) => `${s.resource} (${s.declared} < ${s.minimum})`).join(", ");
    throw new ApiError("insufficient-resources", `Below the minimum: ${names}.`, { shortfalls });
  }
  const skew = skewRefusal(body.timestamp, Date.now(), config.HEARTBEAT_MAX_SKEW_SECONDS);
  if (skew) throw new ApiError(skew.slug, skew.detail, skew.extensions);
  if (!verifySignature(body.publicKey, registrationMessage(operatorId, body), body.signature)) {
    throw new ApiError("invalid-signature", "The registration is not signed by the key it registers.");
  }

  const nodeId = `node_${crypto.randomUUID()}`;
  const placement = unwrap(
    await callDurableObject("NodeDirectoryDO", "place", () =>
      directory(c).place({ nodeId, operatorId, publicKey: body.publicKey, pool: body.pool, maxNodes: config.NODE_POOL_MAX_NODES }),
    ),
  );
  const credential = newCredential(config.NODE_CREDENTIAL_TTL_SECONDS);
  const release = () => callDurableObject("NodeDirectoryDO", "release", () => directory(c).release(nodeId));
  const registered = await callDurableObject("NodePoolDO", "register", () =>
    pool(c, placement.pool).register({
      pool: placement.pool,
      nodeId,
      operatorId,
      publicKey: body.publicKey,
      payoutAddress: body.payoutAddress,
      resources: body.resources,
      credential,
    }),
  ).catch(async (error: unknown) => {
    await release();
    throw error;
  });
  if (!registered.ok) await release();
  const { node, heartbeatChallenge } = unwrap(registered);
  const token = await signNodeCredential(config.JWT_SECRET_KEY, nodeId, placement.pool, credential);
  return c.json(
    {
      node,
      credential: { token, jti: credential.jti, expiresAt: new Date(credential.expiresAt).toISOString(), header: NODE_CREDENTIAL_HEADER },
      heartbeatChallenge,
    },
    201,
  );
});
