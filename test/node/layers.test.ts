// The layer rule (.dependency-cruiser.cjs) run over small trees of our layout: it passes imports that
// point down and fails each kind that points up, so `npm run lint:layers` (run by `npm test` over the
// real tree) cannot silently stop checking.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Runs depcruise with our config over `files` laid out in a temporary tree; returns its exit code and output. */
async function cruise(files: Record<string, string>): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), "lucid-layers-"));
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  copyFileSync(join(root, ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true } }));
  const layers = ["shared", "platform", "durable-objects", "functions"].filter((layer) =>
    Object.keys(files).some((f) => f.startsWith(`${layer}/`)),
  );
  try {
    const { stdout } = await run(
      process.execPath,
      [join(root, "node_modules/.bin/depcruise"), "--config", ".dependency-cruiser.cjs", ...layers],
      { cwd: dir },
    );
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

const LEGAL = {
  "shared/money.ts": "export const unit = 1n;\n",
  "platform/env.ts": 'import type { AuditDO } from "../durable-objects/audit.ts";\nexport type Env = { AUDIT: AuditDO };\n',
  "platform/store.ts": 'import { unit } from "../shared/money.ts";\nexport const store = unit;\n',
  "durable-objects/audit.ts":
    'import { store } from "../platform/store.ts";\nimport type { Env } from "../platform/env.ts";\nexport class AuditDO { env?: Env; s = store; }\n',
  "functions/route.ts": 'import { AuditDO } from "../durable-objects/audit.ts";\nexport const route = new AuditDO();\n',
};

describe("the layer rule", () => {
  it("passes imports that point down, and type-only names of Durable Objects in platform/env.ts", async () => {
    const { code, output } = await cruise(LEGAL);
    expect(output).toContain("no dependency violations");
    expect(code).toBe(0);
  });

  it.each([
    [
      "objects-below-functions",
      { "durable-objects/audit.ts": 'import { route } from "../functions/route.ts";\nexport const r = route;\n' },
    ],
    [
      "shared-is-pure",
      { "shared/money.ts": 'import type { Env } from "../platform/env.ts";\nexport type E = Env;\nexport const unit = 1n;\n' },
    ],
    ["shared-has-no-node-builtins", { "shared/money.ts": 'import { createHash } from "node:crypto";\nexport const unit = createHash;\n' }],
    [
      "platform-below-objects",
      { "platform/store.ts": 'import { AuditDO } from "../durable-objects/audit.ts";\nexport const store = AuditDO;\n' },
    ],
  ])("fails %s", async (rule, override) => {
    const { code, output } = await cruise({ ...LEGAL, ...override });
    expect(output).toContain(`error ${rule}:`);
    expect(code).not.toBe(0);
  });
});
