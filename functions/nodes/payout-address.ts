import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors.ts";
import { unwrap } from "../../shared/outcome.ts";
import { isBase58Address } from "../../shared/tron/address.ts";
import { ONE_FACTOR_MESSAGE, oneSecondFactor, requireSecondFactor, SecondFactorFields } from "../admin/step-up.ts";
import { callDurableObject } from "../do-call.ts";
import { guarded } from "../middleware/authorize.ts";
import { createApp, jsonBody, jsonResponse, problemResponses } from "../openapi.ts";
import { visibleNode } from "./access.ts";
import { NodeIdParam, NodeSchema } from "./schemas.ts";

const ChangeAddressSchema = z
  .object({
    payoutAddress: z.string().max(64).openapi({ description: "Base58 TRON address" }),
    ...SecondFactorFields,
  })
  .strict()
  .refine(oneSecondFactor, ONE_FACTOR_MESSAGE)
  .openapi("PayoutAddressChange");

const changeAddress = createRoute({
  method: "put",
  path: "/{id}/payout-address",
  tags: ["nodes"],
  summary:
    "Change a node's payout address (its operator, with a fresh TOTP or recovery code); it receives nothing for PAYOUT_ADDRESS_COOLDOWN_SECONDS",
  ...guarded("nodes:operate:own"),
  request: { params: NodeIdParam, body: jsonBody(ChangeAddressSchema) },
  responses: {
    200: jsonResponse(NodeSchema, "The node with its new address and when it may receive"),
    ...problemResponses(400, 401, 403, 404, 429),
  },
});

/**
 * Where a node's money goes is the prize of a stolen session token, so changing it needs the
 * operator's second factor at that moment (UserDO checks it; each TOTP code works once; wrong codes
 * are throttled as every step-up's), and the
 * new address then cools down before any payout, automatic or requested, can reach it.
 */
export const payoutAddressApp = createApp().openapi(changeAddress, async (c) => {
  const { id } = c.req.valid("param");
  const { payoutAddress, totpCode, recoveryCode } = c.req.valid("json");
  const { stub, placement, principal } = await visibleNode(c, id);
  if (placement.operatorId !== principal.userId) throw new ApiError("forbidden", "Only the node's operator changes its payout address.");
  if (!isBase58Address(payoutAddress)) throw new ApiError("invalid-address", "payoutAddress is not a valid TRON address.");
  // Throttled like every step-up: wrong codes back off and alert (functions/admin/step-up.ts).
  await requireSecondFactor(c, "nodes.payout_address", { totpCode, recoveryCode }, id);
  const node = unwrap(
    await callDurableObject("NodePoolDO", "changePayoutAddress", () =>
      stub.changePayoutAddress({ nodeId: id, operatorId: principal.userId, payoutAddress }),
    ),
  );
  return c.json(node, 200);
});
