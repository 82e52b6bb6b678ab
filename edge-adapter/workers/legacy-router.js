// Router worker for one legacy port (edge-adapter/legacy-ports.ts): the seed's GUI called
// http://<host>:<port>/api/v1/<path>; Lucid serves that function at <TARGET>/<path>.
// Paths that already name the surface, and anything outside /api/v1 (/health), pass unchanged.

/** @param {string} path @param {string} target */
export function legacyPath(path, target) {
  const api = "/api/v1";
  if (target === api || !(path === api || path.startsWith(`${api}/`))) return path;
  const rest = path.slice(api.length);
  const surface = target.slice(api.length);
  if (rest === surface || rest.startsWith(`${surface}/`)) return path;
  return target + rest;
}

export default {
  /** @param {Request} request @param {{ LUCID: Fetcher, TARGET: string }} env */
  fetch(request, env) {
    const url = new URL(request.url);
    url.pathname = legacyPath(url.pathname, env.TARGET);
    return env.LUCID.fetch(new Request(url, request));
  },
};
