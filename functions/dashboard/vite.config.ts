// Builds the web dashboard (Preact) into out/dashboard, which the Worker serves as static assets.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: `${here}app`,
  base: "/",
  logLevel: "warn",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: `${here}../../out/dashboard`,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // The player pulls in zstd and XChaCha20: one bundle of ~100 kB is still light.
    chunkSizeWarningLimit: 400,
  },
});
