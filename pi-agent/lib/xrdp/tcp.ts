/** Established TCP connections on a local port, from /proc/net/tcp and tcp6 (no tools needed). */
import { readFileSync } from "node:fs";

const ESTABLISHED = "01";

function ipv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
}

function address(hex: string): string {
  if (hex.length === 8) return ipv4(hex);
  if (hex.startsWith("0000000000000000FFFF0000")) return ipv4(hex.slice(24)); // IPv4-mapped
  return (hex.match(/.{8}/g) ?? [])
    .map((word) => word.match(/../g)!.reverse().join(""))
    .join("")
    .replace(/(.{4})(?!$)/g, "$1:")
    .toLowerCase();
}

/** Remote "address:port" of every established connection whose local port is `port`. */
export function establishedClients(port: number): string[] {
  const clients: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== ESTABLISHED) continue;
      const [localHex, localPort] = f[1]!.split(":");
      const [remoteHex, remotePort] = f[2]!.split(":");
      if (Number.parseInt(localPort!, 16) !== port || !localHex) continue;
      clients.push(`${address(remoteHex!)}:${Number.parseInt(remotePort!, 16)}`);
    }
  }
  return clients;
}
