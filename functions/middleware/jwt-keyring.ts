import type { Config } from "../../shared/config.ts";
import { JwtKeyring } from "../../shared/jwt.ts";

// One keyring per parsed configuration (i.e. per isolate): keys are imported once, not per request.
// The keyring itself is kept, never the promise of it: a promise shared between requests would run
// one request's continuation in another request's I/O context, which Workers refuses.
const keyrings = new WeakMap<Config, JwtKeyring>();

export async function keyringFor(config: Config): Promise<JwtKeyring> {
  const cached = keyrings.get(config);
  if (cached) return cached;
  const ring = await JwtKeyring.create(config.JWT_SECRET_KEY, config.JWT_SECRET_KEY_PREVIOUS);
  keyrings.set(config, ring);
  return ring;
}
