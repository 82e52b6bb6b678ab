/**
 * IP addresses and CIDR ranges, IPv4 and IPv6, for the client-address policy (TRUSTED_PROXIES).
 * Addresses are bytes (4 or 16); an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4
 * address, so one client never counts as two. Text out is canonical (RFC 5952 for IPv6).
 */

export type IpBytes = Uint8Array;

export interface Cidr {
  /** Network address, 4 or 16 bytes, host bits zero. */
  network: IpBytes;
  prefix: number;
}

function parseIpv4(text: string): IpBytes | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // Decimal only, no leading zeros (some parsers read "010" as octal).
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIpv6(text: string): IpBytes | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

const isV4Mapped = (b: IpBytes) => b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** An IPv4 or IPv6 address (no port, no brackets, no zone), or null. IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(text: string): IpBytes | null {
  const bytes = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  if (bytes && isV4Mapped(bytes)) return bytes.slice(12);
  return bytes;
}

/** Canonical text: dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run of ≥ 2 groups as ::). */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (best.length < 2) return hex(groups);
  return `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.length))}`;
}

/** The canonical form of an address given as text, or null when it is not one. */
export function canonicalIp(text: string): string | null {
  const bytes = parseIp(text.trim());
  return bytes ? formatIp(bytes) : null;
}

/**
 * "10.0.0.0/8", "2001:db8::/32", or a bare address (one host). Throws with the reason, so the
 * configuration schema can name it; host bits set ("10.0.0.1/8") are refused as a likely typo.
 */
export function parseCidr(text: string): Cidr {
  const [address, prefixText, extra] = text.trim().split("/");
  if (extra !== undefined || !address) throw new Error(`"${text}" is not an address or CIDR range`);
  const network = parseIp(address);
  if (!network) throw new Error(`"${text}" is not an IPv4 or IPv6 address or range`);
  const max = network.length * 8;
  // A mapped IPv4 range (::ffff:10.0.0.0/104) is written with the IPv6 prefix length.
  const mapped = address.includes(":") && network.length === 4;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) throw new Error(`"${text}" has no valid prefix length`);
    prefix = Number(prefixText) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > max) throw new Error(`"${text}": the prefix length must be 0–${mapped ? 128 : max}`);
  }
  for (let bit = prefix; bit < max; bit++) {
    if (network[bit >> 3]! & (0x80 >> (bit & 7))) {
      throw new Error(`"${text}" has host bits set (the range starts at ${formatIp(maskTo(network, prefix))}/${prefixText})`);
    }
  }
  return { network, prefix };
}

function maskTo(bytes: IpBytes, prefix: number): IpBytes {
  const out = bytes.slice();
  for (let bit = prefix; bit < bytes.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

export function cidrContains(cidr: Cidr, address: IpBytes): boolean {
  if (cidr.network.length !== address.length) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.network[i] !== address[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (cidr.network[full]! & mask) === (address[full]! & mask);
}

export const formatCidr = (cidr: Cidr) => `${formatIp(cidr.network)}/${cidr.prefix}`;
