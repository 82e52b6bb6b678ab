import type { Config } from "../../shared/config.ts";
import { JwtKeyring } from "../../shared/jwt.ts";

// One keyring per parsed configuration (i.e. per isolate): keys are imported once, not per request.
const keyrings = new WeakMap<Config, Promise<JwtKeyring>>();

export function keyringFor(config: Config): Promise<JwtKeyring> {
  let ring = keyrings.get(config);
  if (!ring) {
    ring = JwtKeyring.create(config.JWT_SECRET_KEY, config.JWT_SECRET_KEY_PREVIOUS);
    keyrings.set(config, ring);
    ring.catch(() => keyrings.delete(config));
  }
  return ring;
}
