// Builds the standalone verifiers (docs/package.md) into dist/:
//   dist/lucid-verify.mjs  one ES module with every dependency inlined, for `node lucid-verify.mjs PACKAGE` (Node ≥ 20)
//   dist/verify.html       one self-contained page (inline script, no network) that checks and plays a package;
//                          also copied to out/dashboard/verify.html when the dashboard is built, for GET /verify
//                          and for every package.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");
mkdirSync(dist, { recursive: true });
const common = { bundle: true, minify: true, legalComments: "none", logLevel: "warning" };

await build({
  ...common,
  entryPoints: [join(root, "scripts", "lucid-verify.ts")],
  outfile: join(dist, "lucid-verify.mjs"),
  platform: "node",
  format: "esm",
  target: "node20",
  banner: { js: "// lucid-verify: checks a Lucid recording package offline (docs/package.md). Bundled: no dependencies." },
});

const page = await build({
  ...common,
  entryPoints: [join(root, "functions", "dashboard", "app", "verify", "main.ts")],
  write: false,
  platform: "browser",
  format: "iife",
  target: "es2022",
});
// "</script" inside the bundle would end the inline element early.
const script = page.outputFiles[0].text.replaceAll("</script", "<\\/script");
const template = readFileSync(join(root, "scripts", "verify-page.html"), "utf8");
const html = template.replace("/*SCRIPT*/", () => script);
writeFileSync(join(dist, "verify.html"), html);
const served = join(root, "out", "dashboard");
if (existsSync(served)) copyFileSync(join(dist, "verify.html"), join(served, "verify.html"));
console.log(`built ${join(dist, "lucid-verify.mjs")} and ${join(dist, "verify.html")} (${Math.round(html.length / 1024)} KiB)`);
