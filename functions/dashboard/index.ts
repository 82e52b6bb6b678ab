import type { Context } from "hono";
import type { AppEnv } from "../types.ts";

/**
 * The web dashboard: a single-page app built by Vite (functions/dashboard/app → out/dashboard)
 * and served from the ASSETS binding. On wrangler dev, Cloudflare and Miniflare that binding is
 * wrangler's `[assets]`; self-hosted it is a read-only workerd disk service over the same files
 * (edge-adapter/workerd-config.ts). A disk service answers with bare bytes, so this module adds
 * what both need alike: the SPA fallback, content types, caching and a strict CSP.
 */

/** Paths the API owns: never answered with the dashboard. */
const API_PATHS = /^\/(api|problems)(\/|$)|^\/health$/;

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  woff2: "font/woff2",
  map: "application/json",
};

// Scripts and styles come only from the dashboard's own files; the API is same-origin.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/**
 * The standalone verifier page (verify.html, docs/package.md) runs its one inline script and may
 * reach nothing at all: it checks packages offline, and is also saved and opened from disk.
 */
const VERIFIER_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function isDashboardRequest(method: string, path: string): boolean {
  return (method === "GET" || method === "HEAD") && !API_PATHS.test(path);
}

const extensionOf = (path: string) => /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();

/**
 * Answers a dashboard request, or null when there is no such file (the caller's 404 applies).
 * Paths without a file extension are app routes (/sessions/…, /login/magic): they get index.html.
 */
export async function serveDashboard(c: Context<AppEnv>): Promise<Response | null> {
  const assets = c.env.ASSETS;
  if (!assets) return null;
  const url = new URL(c.req.url);
  const extension = extensionOf(url.pathname);
  const verifier = url.pathname === "/verify" || url.pathname === "/verify.html";
  const file = verifier ? "/verify.html" : extension ? url.pathname : "/index.html";
  if (file.split("/").some((segment) => segment === "..")) return null;
  const upstream = await assets.fetch(new Request(new URL(file, url.origin), { method: c.req.method }));
  if (upstream.status === 404 || (upstream.status >= 300 && upstream.status < 400 && extension)) return null;
  if (!upstream.ok && upstream.status !== 304) return null;
  const headers = new Headers(upstream.headers);
  headers.set("Content-Type", CONTENT_TYPES[extension ?? "html"] ?? "application/octet-stream");
  // Vite puts a content hash in every file name under /assets/; the page itself must revalidate.
  headers.set("Cache-Control", url.pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  headers.set("Content-Security-Policy", verifier ? VERIFIER_CSP : CSP);
  headers.set("X-Content-Type-Options", "nosniff");
  if (verifier) headers.set("Content-Disposition", 'inline; filename="lucid-verify.html"');
  for (const [name, value] of c.res.headers) if (!headers.has(name)) headers.set(name, value);
  return new Response(c.req.method === "HEAD" ? null : upstream.body, { status: upstream.status === 304 ? 304 : 200, headers });
}

/** Health check: the dashboard's page is among the assets. */
/** The verifier page's bytes from the assets, for packages; null when the deployment has none built. */
export async function verifierPage(env: AppEnv["Bindings"]): Promise<Uint8Array | null> {
  if (!env.ASSETS) return null;
  const res = await env.ASSETS.fetch(new Request("http://assets.local/verify.html"));
  if (!res.ok) {
    await res.body?.cancel();
    return null;
  }
  return new Uint8Array(await res.arrayBuffer());
}

export async function dashboardHealth(env: AppEnv["Bindings"]): Promise<{ ok: boolean; detail: string }> {
  if (!env.ASSETS) return { ok: false, detail: "no ASSETS binding (build the dashboard: npm run dashboard:build)" };
  const res = await env.ASSETS.fetch(new Request("http://assets.local/index.html"));
  await res.body?.cancel();
  return res.ok ? { ok: true, detail: "index.html served" } : { ok: false, detail: `index.html answered ${res.status}` };
}
