import type { Context } from "hono";
import { ApiError } from "../../shared/errors.ts";
import { formatUnits } from "../../shared/money.ts";
import { unwrap } from "../../shared/outcome.ts";
import type { PayoutView } from "../../durable-objects/ledger/views.ts";
import { callDurableObject } from "../do-call.ts";
import { principalOf } from "../middleware/authenticate.ts";
import type { AppEnv } from "../types.ts";
import { ledgerStub } from "./ledger.ts";
import { objectNamed, singleton } from "../../platform/objects.ts";

/**
 * A NODE_OPERATOR's payout: the node's pool (the owner of its accrual) reserves the amount, which
 * must not exceed the node's available earnings, for the node's registered payout address only;
 * then LedgerDO records the payout under the pool's idempotency key. A refusal by the ledger
 * gives the reservation back, so a refused request changes nothing. If this request dies between
 * the two, the pool's outbox delivers the same request later (the ledger answers it once).
 */
export async function operatorPayout(
  c: Context<AppEnv>,
  input: { nodeId: string; units: bigint; recipient?: string },
): Promise<PayoutView> {
  const principal = principalOf(c);
  const directory = singleton(c.env, "NODE_DIRECTORY");
  const placement = await callDurableObject("NodeDirectoryDO", "locate", () => directory.locate(input.nodeId));
  if (!placement || placement.operatorId !== principal.userId) throw new ApiError("not-found", `No node ${input.nodeId}.`);
  const pool = objectNamed(c.env, "NODE_POOLS", placement.pool);
  const request = unwrap(
    await callDurableObject("NodePoolDO", "reserveOperatorPayout", () =>
      pool.reserveOperatorPayout({
        nodeId: input.nodeId,
        operatorId: principal.userId,
        amountUnits: String(input.units),
        recipient: input.recipient,
      }),
    ),
  );
  const result = await callDurableObject("LedgerDO", "requestPayout", () =>
    ledgerStub(c).requestPayout({
      idempotencyKey: request.idempotencyKey,
      recipient: request.payoutAddress,
      amount: formatUnits(input.units),
      source: "node",
      requestedBy: principal.userId,
      nodeId: input.nodeId,
    }),
  );
  if (!result.ok) {
    await callDurableObject("NodePoolDO", "releasePayout", () =>
      pool.releasePayout(request.idempotencyKey, `${result.problem.slug}: ${result.problem.detail}`),
    );
    return unwrap(result);
  }
  await callDurableObject("NodePoolDO", "markPayoutDelivered", () => pool.markPayoutDelivered(request.idempotencyKey, result.value.id));
  return result.value;
}
