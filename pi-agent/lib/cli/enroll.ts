import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { TRON_ADDRESS } from "../../../shared/nodes/protocol.ts";
import { EnrolmentRefusedError, enrol, tokenSubject } from "../node/enroll.ts";
import { hostResources } from "../node/heartbeat.ts";
import { DEFAULT_STATE_DIR, nodeFile } from "../node/state.ts";
import { EXIT, UsageError, positiveNumber } from "./exit-codes.ts";

export const ENROLL_HELP = `lucid-agent enroll --server URL --payout-address T… --bandwidth-mbps N [options]

Makes this machine a Lucid node: generates its Ed25519 key, registers it with the node API
(POST /api/v1/nodes, signed by the new key) using the operator's access token, and stores the
key, node id, pool and node credential in STATE/node.json (mode 0600). CPU cores, memory and the
state directory's disk are read from the system; the uplink bandwidth is declared.

  --server URL              Lucid API origin
  --operator-token-file F   the operator's access token (NODE_OPERATOR; or env LUCID_OPERATOR_TOKEN)
  --payout-address T…       TRON address for USDT payouts
  --bandwidth-mbps N        declared uplink bandwidth
  --pool pool-N             ask for a pool (default: the directory picks one with room)
  --state DIR               state directory (default ${DEFAULT_STATE_DIR})
  --force                   enrol again over an existing node.json (the old identity is lost)

Exit codes: 0 enrolled, 64 usage, 69 server unreachable, 77 registration refused.
`;

export async function enroll(argv: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string" },
      "operator-token-file": { type: "string" },
      "payout-address": { type: "string" },
      "bandwidth-mbps": { type: "string" },
      pool: { type: "string" },
      state: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return (log(ENROLL_HELP), EXIT.ok);
  if (!values.server || !values["payout-address"] || !values["bandwidth-mbps"]) {
    throw new UsageError("enroll needs --server, --payout-address and --bandwidth-mbps");
  }
  let server: URL;
  try {
    server = new URL(values.server);
  } catch {
    throw new UsageError(`--server "${values.server}" is not a URL`);
  }
  if (!TRON_ADDRESS.safeParse(values["payout-address"]).success)
    throw new UsageError(`--payout-address "${values["payout-address"]}" is not a TRON address`);
  if (values.pool && !/^pool-[0-9]{1,6}$/.test(values.pool)) throw new UsageError("--pool must look like pool-3");
  const bandwidthMbps = positiveNumber(values["bandwidth-mbps"], "bandwidth-mbps", 0, true);
  const operatorToken = (
    values["operator-token-file"] ? readFileSync(values["operator-token-file"], "utf8") : (process.env.LUCID_OPERATOR_TOKEN ?? "")
  ).trim();
  if (!operatorToken)
    throw new UsageError("enroll needs the operator's access token: --operator-token-file FILE or env LUCID_OPERATOR_TOKEN");
  let operatorId: string;
  try {
    operatorId = tokenSubject(operatorToken);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const stateDir = values.state ?? DEFAULT_STATE_DIR;
  if (existsSync(nodeFile(stateDir)) && !values.force) {
    log(`error: ${nodeFile(stateDir)} already holds an enrolled node; --force replaces it (the old identity is lost)`);
    return EXIT.usage;
  }
  const resources = hostResources(existsSync(stateDir) ? stateDir : "/", bandwidthMbps);
  log(
    `enrolling with ${server.origin}: ${resources.cpuCores} cores, ${resources.memoryMb} MB memory, ${resources.diskGb} GB disk, ${bandwidthMbps} Mbit/s`,
  );
  try {
    const state = await enrol({
      server: server.origin,
      operatorToken,
      operatorId,
      payoutAddress: values["payout-address"],
      resources,
      pool: values.pool,
      stateDir,
    });
    log(`enrolled as ${state.nodeId} in ${state.pool}; key and credential saved in ${nodeFile(stateDir)} (0600)`);
    log(`public key ${state.publicKey}`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof EnrolmentRefusedError) return (log(`error: ${error.message}`), EXIT.refused);
    if (error instanceof TypeError && /fetch failed/.test(error.message)) {
      return (log(`error: ${server.origin} is unreachable (${String(error.cause ?? error.message)})`), EXIT.captureFailed);
    }
    throw error;
  }
}
