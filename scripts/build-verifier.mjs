// Builds the standalone verifiers (docs/package.md) into dist/:
//   dist/lucid-verify.mjs  one ES module with every dependency inlined, for `node lucid-verify.mjs PACKAGE` (Node ≥ 20)
import { build } from "esbuild";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist", "lucid-verify.mjs");
await build({
  entryPoints: [join(root, "scripts", "lucid-verify.ts")],
  outfile: out,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  banner: { js: "// lucid-verify: checks a Lucid recording package offline (docs/package.md). Bundled: no dependencies." },
  logLevel: "warning",
});
console.log(`built ${out}`);
