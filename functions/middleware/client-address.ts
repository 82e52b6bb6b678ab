import type { Context } from "hono";
import type { Config } from "../../shared/config.ts";
import { cidrContains, formatIp, parseIp, type Cidr, type IpBytes } from "../../shared/ip.ts";

/** What one request offers; which of it counts is the configuration's choice, never the request's. */
export interface AddressFacts {
  /** The CF-Connecting-IP header (Cloudflare's edge sets it; anywhere else a client can). */
  cfConnectingIp: string | null;
  /** request.cf.clientIp: the peer address workerd's listener gives ("1.2.3.4:5678", "[::1]:5678"). */
  cfClientIp: unknown;
  xForwardedFor: string | null;
}

/** workerd writes the socket's peer as host:port (IPv6 in brackets); the address without the port. */
export function socketAddress(raw: unknown): IpBytes | null {
  if (typeof raw !== "string" || !raw) return null;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(raw);
  if (bracketed) return parseIp(bracketed[1]!);
  const v4 = /^([\d.]+):\d+$/.exec(raw);
  return parseIp(v4 ? v4[1]! : raw);
}

const trusted = (ranges: readonly Cidr[], address: IpBytes) => ranges.some((range) => cidrContains(range, address));

/**
 * The client's address under `config`: the deployment's peer (CF-Connecting-IP on Cloudflare,
 * workerd's socket address self-hosted); when that peer is a configured trusted proxy, its
 * X-Forwarded-For is walked right to left past the trusted hops, and the first other address is
 * the client. A hop that is not an address stops the walk at the last trusted one (the nearest
 * proxy answers for it). "unknown" when the deployment gives no address.
 */
export function chooseClientAddress(config: Pick<Config, "CLIENT_ADDRESS_SOURCE" | "TRUSTED_PROXIES">, facts: AddressFacts): string {
  const peer =
    config.CLIENT_ADDRESS_SOURCE === "cloudflare" ? parseIp(facts.cfConnectingIp?.trim() ?? "") : socketAddress(facts.cfClientIp);
  if (!peer) return "unknown";
  let client = peer;
  if (trusted(config.TRUSTED_PROXIES, peer) && facts.xForwardedFor) {
    const hops = facts.xForwardedFor.split(",").map((hop) => hop.trim());
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIp(hops[i]!);
      if (!hop) break;
      client = hop;
      if (!trusted(config.TRUSTED_PROXIES, hop)) break;
    }
  }
  return formatIp(client);
}

const chosen = new WeakMap<Request, string>();

/** The client's address for this request (see chooseClientAddress); computed once per request. */
export function clientAddress(c: Context): string {
  const request = c.req.raw;
  let address = chosen.get(request);
  if (address === undefined) {
    const config = c.get("config") as Config | undefined;
    // Before the configuration loaded (a config-invalid answer) no source is known.
    if (!config) return "unknown";
    address = chooseClientAddress(config, {
      cfConnectingIp: request.headers.get("CF-Connecting-IP"),
      cfClientIp: (request as Request & { cf?: { clientIp?: unknown } }).cf?.clientIp,
      xForwardedFor: request.headers.get("X-Forwarded-For"),
    });
    chosen.set(request, address);
  }
  return address;
}
