/**
 * Wallets and staking (ADMIN+): each wallet's TRX and USDT balance (read from TRON, cached by
 * the ledger), the payouts still on their way and what they add up to, the hot wallets'
 * reconciliation of on-chain transfers with the ledger, and TRX stakes with their rewards.
 */
import { getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, formatUsdt, short, usdtUnits } from "../lib/format.ts";
import { ErrorBox, Progress, useLoad } from "../components/feedback.tsx";
import { Columns } from "../components/table.tsx";

type Wallet = Answer<Api["payments"]["wallets"]["$get"]>["wallets"][number];
const PENDING = ["requested", "approved", "signed", "broadcast"] as const;

export function WalletsPage() {
  return (
    <section>
      <h1>Wallets and staking</h1>
      <Wallets />
      <PendingPayouts />
      <Reconciliation />
      <Stakes />
    </section>
  );
}

function Wallets() {
  const list = useLoad(() => getJson<Answer<Api["payments"]["wallets"]["$get"]>>("/payments/wallets"), [], 60_000);
  return (
    <div class="panel" role="region" aria-labelledby="wallets-heading" data-testid="wallets">
      <h2 id="wallets-heading">Wallets</h2>
      {list.loading && !list.data && <Progress label="Loading wallets…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && list.data.wallets.length === 0 && <p class="muted">No wallets yet.</p>}
      {list.data && list.data.wallets.length > 0 && (
        <table>
          <Columns names={["Wallet", "Kind", "Address", "TRX", "USDT"]} />
          <tbody>
            {list.data.wallets.map((w) => (
              <WalletRow key={w.id} wallet={w} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** One wallet with its balances, fetched on their own so one unreachable read does not hide the rest. */
function WalletRow({ wallet }: { wallet: Wallet }) {
  const detail = useLoad(() => getJson<Answer<Api["payments"]["wallets"][":id"]["$get"]>>(`/payments/wallets/${wallet.id}`), [wallet.id]);
  const balances = detail.data?.balances;
  return (
    <tr data-wallet={wallet.label}>
      <td>{wallet.label}</td>
      <td>
        {wallet.kind}
        {wallet.watchOnly && <span class="muted"> (watch-only)</span>}
      </td>
      <td>
        <code>{wallet.address}</code>
      </td>
      {balances ? (
        <>
          <td data-testid="trx">{balances.trx}</td>
          <td data-testid="usdt" title={`read ${formatTime(balances.fetchedAt)}`}>
            {balances.usdt}
          </td>
        </>
      ) : (
        <td colSpan={2}>
          {detail.error ? <ErrorBox error={detail.error} onRetry={detail.reload} /> : <Progress label="Reading balances…" />}
        </td>
      )}
    </tr>
  );
}

function PendingPayouts() {
  const list = useLoad(() => getJson<Answer<Api["payments"]["payouts"]["$get"]>>("/payments/payouts?limit=500"), [], 15_000);
  const pending = (list.data?.payouts ?? []).filter((p) => (PENDING as readonly string[]).includes(p.state));
  const byState = PENDING.map((state) => {
    const some = pending.filter((p) => p.state === state);
    return { state, count: some.length, units: some.reduce((sum, p) => sum + usdtUnits(p.net), 0n) };
  });
  const total = byState.reduce((sum, s) => sum + s.units, 0n);
  return (
    <div class="panel" role="region" aria-labelledby="pending-heading" data-testid="pending-payouts">
      <h2 id="pending-heading">Pending payouts</h2>
      {list.loading && !list.data && <Progress label="Loading payouts…" />}
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && (
        <>
          <p role="status">
            {pending.length} payouts pending, {formatUsdt(total)} USDT net to pay. <a href="/payouts">All payouts</a>
          </p>
          <dl class="facts">
            {byState.map((s) => (
              <>
                <dt>{s.state}</dt>
                <dd data-state={s.state}>
                  {s.count} · {formatUsdt(s.units)} USDT
                </dd>
              </>
            ))}
          </dl>
        </>
      )}
    </div>
  );
}

function Reconciliation() {
  const status = useLoad(() => getJson<Answer<Api["payments"]["reconciliations"]["$get"]>>("/payments/reconciliations"), [], 15_000);
  return (
    <div class="panel" role="region" aria-labelledby="reconciliation-heading" data-testid="reconciliation">
      <h2 id="reconciliation-heading">Reconciliation</h2>
      <p class="muted">Each hot wallet's on-chain USDT transfers compared with the ledger's payouts.</p>
      <ErrorBox error={status.error} onRetry={status.reload} />
      {status.data && status.data.wallets.length === 0 && <p class="muted">No hot wallet to reconcile.</p>}
      {status.data?.wallets.map((w) => (
        <div data-wallet={w.label}>
          <h3>
            {w.label} <code class="muted">{short(w.address, 10)}</code>:{" "}
            {!w.last ? (
              <span class="state">not run yet</span>
            ) : w.last.differences.length === 0 ? (
              <span class="state state-confirmed">agrees</span>
            ) : (
              <span class="state state-failed">{w.last.differences.length} differences</span>
            )}
          </h3>
          {w.last && (
            <p>
              {formatTime(w.last.at)}: {w.last.transfers} transfers on chain, {w.last.payouts} payouts with a transaction.
            </p>
          )}
          {w.last && w.last.differences.length > 0 && (
            <ul class="error-text">
              {w.last.differences.map((d) => (
                <li>{d}</li>
              ))}
            </ul>
          )}
        </div>
      ))}
      {status.data?.nextDueAt && <p class="muted">Next run {formatTime(status.data.nextDueAt)}.</p>}
    </div>
  );
}

function Stakes() {
  const list = useLoad(() => getJson<Answer<Api["payments"]["stakes"]["$get"]>>("/payments/stakes"), [], 60_000);
  return (
    <div class="panel" role="region" aria-labelledby="stakes-heading" data-testid="stakes">
      <h2 id="stakes-heading">TRX staking</h2>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {list.data && list.data.stakes.length === 0 && <p class="muted">No stakes.</p>}
      {list.data && list.data.stakes.length > 0 && (
        <table>
          <Columns names={["Amount (TRX)", "Resource", "State", "Reward rate", "Accrued reward", "Unfreeze after"]} />
          <tbody>
            {list.data.stakes.map((s) => (
              <tr data-stake={s.id}>
                <td>{s.amount}</td>
                <td>{s.resource}</td>
                <td>
                  <span class={`state state-${s.state === "frozen" ? "confirmed" : s.state === "failed" ? "failed" : "active"}`}>
                    {s.state}
                  </span>
                  {s.failureReason && <span class="error-text"> {s.failureReason}</span>}
                </td>
                <td>{s.rewardRate}</td>
                <td>{s.accruedReward}</td>
                <td>{formatTime(s.unfreezeAfter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
