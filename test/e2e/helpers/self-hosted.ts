import { join } from "node:path";
import { buildSelfHosted, type BuildOptions } from "../../../edge-adapter/build.ts";
import { ROOT } from "../../../edge-adapter/workerd-process.ts";

/**
 * The self-hosted build every end-to-end test starts from: this checkout, bundle and data under
 * `work` (out/, data/), HTTP on loopback at `port`, served as PUBLIC_ORIGIN http://127.0.0.1:<port>
 * unless `options.publicOrigin` says otherwise; `options` adds the test's own (vars, HTTPS…).
 */
export function buildOnLoopback(
  work: string,
  port: number,
  options: Partial<Omit<BuildOptions, "root" | "outDir" | "dataDir" | "httpAddress">> = {},
) {
  return buildSelfHosted({
    root: ROOT,
    outDir: join(work, "out"),
    dataDir: join(work, "data"),
    httpAddress: `127.0.0.1:${port}`,
    publicOrigin: `http://127.0.0.1:${port}`,
    ...options,
  });
}
