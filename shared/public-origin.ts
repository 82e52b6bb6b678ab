import { z } from "zod";

// Kept apart from config.ts so the edge adapter (plain Node, type stripping only) can check a
// build's --public-origin with the same rule the Worker applies at start-up.

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * The deployment's public origin (scheme, host, optional port; no path): https, or http only on
 * loopback. Links in mail, the login message's domain and URI, and CORS derive from it, never
 * from the request's Host.
 */
export const publicOrigin = z.string().transform((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text.trim());
  } catch {
    url = undefined;
  }
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (!url) return fail("must be an origin such as https://lucid.example");
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOST.test(url.hostname))) {
    return fail("must be an https origin (http only for localhost, 127.0.0.0/8 or [::1])");
  }
  if (url.username || url.password || url.search || url.hash || url.pathname !== "/" || /[?#]/.test(text)) {
    return fail("must be an origin only: scheme, host and port, no path, query or credentials");
  }
  return url.origin;
});

/** What `wrangler dev` serves by default; the origin outside production when PUBLIC_ORIGIN is unset. */
export const DEV_PUBLIC_ORIGIN = "http://localhost:8787";
