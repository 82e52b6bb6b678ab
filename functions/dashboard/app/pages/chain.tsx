/**
 * Chain explorer: stats, blocks, transactions, and proofs checked in this browser with the same
 * shared code the server and `lucid verify` use (header hash, Ed25519 signature, parent link,
 * transaction Merkle root, a session anchor's inclusion proof).
 */
import { useState } from "preact/hooks";
import { headerHash, txRoot, verifyHeaderSignature } from "../../../../shared/chain/block.ts";
import { verifyTxInclusion } from "../../../../shared/chain/proof.ts";
import { chainTx, type ChainTx } from "../../../../shared/chain/transactions.ts";
import { getJson, type Answer, type Api } from "../lib/api.ts";
import { formatTime, short } from "../lib/format.ts";
import { ErrorBox, Progress, useAction, useLoad } from "../components/feedback.tsx";
import { Columns } from "../components/table.tsx";

type SignedBlock = Answer<Api["chain"]["blocks"]["$get"]>["blocks"][number];

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

function CheckList({ checks }: { checks: Check[] }) {
  const ok = checks.every((c) => c.ok);
  return (
    <div role="status" class={ok ? "ok" : "error"}>
      <strong>{ok ? "All checks passed." : "A check failed."}</strong>
      <ul>
        {checks.map((c) => (
          <li>
            {c.ok ? "✔" : "✘"} {c.name}: {c.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}

async function headerChecks(block: SignedBlock): Promise<Check[]> {
  const hash = headerHash(block.header as never);
  const checks: Check[] = [
    {
      name: "hash",
      ok: hash === block.hash,
      detail: hash === block.hash ? "the header hashes to the block hash" : `the header hashes to ${hash}`,
    },
  ];
  if (block.header.height > 0) {
    const signed = await verifyHeaderSignature({ header: block.header as never, hash: block.hash, signature: block.signature });
    checks.push({
      name: "signature",
      ok: signed,
      detail: signed ? `Ed25519 signature by ${short(block.header.producer, 16)}` : "the producer's signature does not verify",
    });
  }
  return checks;
}

export function ChainPage() {
  const initial = Number(new URLSearchParams(location.search).get("block"));
  const [selected, setSelected] = useState<number | null>(
    Number.isInteger(initial) && initial >= 0 && location.search.includes("block=") ? initial : null,
  );
  const [from, setFrom] = useState<number | null>(null);
  const stats = useLoad(() => getJson<Answer<Api["chain"]["stats"]["$get"]>>("/chain/stats"), [], 10_000);
  const height = stats.data?.height ?? 0;
  const start = from ?? Math.max(0, height - 19);
  const blocks = useLoad(() => getJson<Answer<Api["chain"]["blocks"]["$get"]>>(`/chain/blocks?from=${start}&limit=20`), [start, height]);
  return (
    <section>
      <h1>Chain</h1>
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {stats.data && (
        <dl class="facts">
          <dt>Chain</dt>
          <dd>{stats.data.chain}</dd>
          <dt>Genesis (trust root)</dt>
          <dd>
            <code title="pin it with: node lucid-verify.mjs PACKAGE --genesis HASH">{stats.data.genesisHash}</code>
          </dd>
          <dt>Height</dt>
          <dd>{stats.data.height}</dd>
          <dt>Head</dt>
          <dd>
            <code>{short(stats.data.headHash, 16)}</code> at {formatTime(stats.data.headTime)}
          </dd>
          <dt>Transactions</dt>
          <dd>
            {stats.data.transactions} ({stats.data.anchors} anchors, {stats.data.mempool} waiting)
          </dd>
          <dt>Producer</dt>
          <dd>
            <code>{short(stats.data.producer, 16)}</code>
          </dd>
        </dl>
      )}
      <AnchorCheck />
      <h2>Blocks</h2>
      <ErrorBox error={blocks.error} onRetry={blocks.reload} />
      {blocks.data && (
        <table>
          <Columns names={["Height", "Time", "Transactions", "Hash"]} />
          <tbody>
            {[...blocks.data.blocks].reverse().map((b) => (
              <tr key={b.hash} aria-selected={selected === b.header.height}>
                <td>
                  <button type="button" class="link" onClick={() => setSelected(b.header.height)}>
                    {b.header.height}
                  </button>
                </td>
                <td>{formatTime(b.header.timestamp)}</td>
                <td>{b.header.txCount}</td>
                <td>
                  <code>{short(b.hash, 16)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={start + 20 > height} onClick={() => setFrom(Math.min(height, start + 20))}>
          Newer
        </button>
        <button type="button" disabled={start === 0} onClick={() => setFrom(Math.max(0, start - 20))}>
          Older
        </button>
      </div>
      {selected !== null && <BlockView height={selected} />}
    </section>
  );
}

function BlockView({ height }: { height: number }) {
  const block = useLoad(() => getJson<Answer<Api["chain"]["blocks"][":id"]["$get"]>>(`/chain/blocks/${height}`), [height]);
  const [checks, setChecks] = useState<Check[] | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [txs, setTxs] = useState<ChainTx[] | null>(null);
  const verify = useAction(async () => {
    const b = block.data!;
    const results = await headerChecks(b);
    if (b.header.height > 0) {
      const parent = await getJson<Answer<Api["chain"]["blocks"][":id"]["$get"]>>(`/chain/blocks/${b.header.height - 1}`);
      const linked = parent.hash === b.header.previousHash && headerHash(parent.header as never) === parent.hash;
      results.push({
        name: "parent",
        ok: linked,
        detail: linked ? `links to block ${parent.header.height}` : "previousHash does not match the parent block",
      });
    }
    const loaded: ChainTx[] = [];
    for (const [i, id] of b.txIds.entries()) {
      setProgress({ done: i, total: b.txIds.length });
      loaded.push(chainTx.parse((await getJson<Answer<Api["chain"]["transactions"][":id"]["$get"]>>(`/chain/transactions/${id}`)).tx));
    }
    setProgress(null);
    setTxs(loaded);
    const root = txRoot(loaded);
    results.push({
      name: "transactions",
      ok: root === b.header.txRoot,
      detail:
        root === b.header.txRoot
          ? `${loaded.length} transactions give the txRoot`
          : `the transactions give ${root}, the header says ${b.header.txRoot}`,
    });
    setChecks(results);
  });
  const b = block.data;
  return (
    <section class="panel" aria-labelledby="block-heading">
      <h2 id="block-heading">Block {height}</h2>
      <ErrorBox error={block.error} onRetry={block.reload} />
      {b && (
        <>
          <dl class="facts">
            <dt>Hash</dt>
            <dd>
              <code>{b.hash}</code>
            </dd>
            <dt>Previous</dt>
            <dd>
              <code>{b.header.previousHash}</code>
            </dd>
            <dt>Time</dt>
            <dd>{formatTime(b.header.timestamp)}</dd>
            <dt>Epoch / slot</dt>
            <dd>
              {b.header.epoch} / {b.header.slot}
            </dd>
            <dt>Producer</dt>
            <dd>
              <code>{b.header.producer}</code>
            </dd>
            <dt>txRoot</dt>
            <dd>
              <code>{b.header.txRoot}</code>
            </dd>
          </dl>
          <button type="button" disabled={verify.busy} onClick={() => void verify.run()}>
            Verify this block in the browser
          </button>
          {progress && <Progress label="Fetching transactions" done={progress.done} total={progress.total} />}
          <ErrorBox error={verify.error} />
          {checks && <CheckList checks={checks} />}
          {txs && (
            <ol class="events">
              {txs.map((tx) => (
                <li>
                  <code>{tx.type}</code> {JSON.stringify(tx).slice(0, 160)}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}

function AnchorCheck() {
  const [sessionId, setSessionId] = useState("");
  const [checks, setChecks] = useState<Check[] | null>(null);
  const verify = useAction(async () => {
    setChecks(null);
    const evidence = await getJson<Answer<Api["chain"]["anchors"][":sessionId"]["$get"]>>(
      `/chain/anchors/${encodeURIComponent(sessionId.trim())}`,
    );
    const tx = chainTx.parse(evidence.tx);
    const included = verifyTxInclusion(tx, evidence.proof, evidence.block.header.txRoot);
    setChecks([
      {
        name: "inclusion",
        ok: included,
        detail: included
          ? `transaction ${evidence.proof.txIndex} of ${evidence.proof.txCount} in block ${evidence.block.header.height}`
          : "the proof does not lead to the block's txRoot",
      },
      ...(await headerChecks(evidence.block as SignedBlock)),
    ]);
  });
  return (
    <form
      class="panel"
      aria-labelledby="anchor-heading"
      onSubmit={(e) => {
        e.preventDefault();
        void verify.run();
      }}
    >
      <h2 id="anchor-heading">Check a session's anchor</h2>
      <label>
        Session id
        <input name="sessionId" required value={sessionId} onInput={(e) => setSessionId(e.currentTarget.value)} spellcheck={false} />
      </label>
      <button type="submit" disabled={verify.busy}>
        Verify the anchor proof
      </button>
      <ErrorBox error={verify.error} />
      {checks && <CheckList checks={checks} />}
    </form>
  );
}
