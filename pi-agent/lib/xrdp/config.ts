/**
 * xrdp configuration for one server: the system's /etc/xrdp/xrdp.ini with this server's listen
 * address and port, colour depth, its own log, and only the chosen backend's section (Xorg with
 * xorgxrdp, or Xvnc), auto-run with the credentials the client sends. One xrdp-sesman serves every
 * server of the host: xrdp finds it through /etc/xrdp/sesman.ini (ListenPort), so its copy keeps
 * the system's address and port and changes only logging.
 */
import { readFileSync } from "node:fs";
import type { ServerConfig } from "../../../shared/rdp/protocol.ts";

export const SYSTEM_XRDP_INI = "/etc/xrdp/xrdp.ini";
export const SYSTEM_SESMAN_INI = "/etc/xrdp/sesman.ini";

interface Section {
  name: string;
  lines: string[];
}

function sections(ini: string): Section[] {
  const out: Section[] = [{ name: "", lines: [] }];
  for (const line of ini.split("\n")) {
    const header = /^\[([^\]]+)\]\s*$/.exec(line);
    if (header) out.push({ name: header[1]!, lines: [line] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}

function setKey(section: Section, key: string, value: string): void {
  const i = section.lines.findIndex((l) => new RegExp(`^${key}=`).test(l));
  if (i >= 0) section.lines[i] = `${key}=${value}`;
  else section.lines.splice(1, 0, `${key}=${value}`);
}

const BACKEND_SECTION = { xorg: "Xorg", xvnc: "Xvnc" } as const;

export function xrdpIni(o: { address: string; port: number; config: ServerConfig; logFile: string; base?: string }): string {
  const keep = BACKEND_SECTION[o.config.backend];
  const all = sections(o.base ?? readFileSync(SYSTEM_XRDP_INI, "utf8"));
  const globals = all.find((s) => s.name === "Globals");
  const logging = all.find((s) => s.name === "Logging");
  if (!globals || !logging || !all.some((s) => s.name === keep))
    throw new Error(`${SYSTEM_XRDP_INI} lacks [Globals], [Logging] or [${keep}]`);
  setKey(globals, "port", `tcp://${o.address}:${o.port}`);
  setKey(globals, "max_bpp", String(o.config.colourDepth));
  setKey(globals, "autorun", keep); // log straight in with the client's user and password
  setKey(logging, "LogFile", o.logFile);
  setKey(logging, "EnableSyslog", "false");
  applyChannelPolicy(all, globals, keep, o.config);
  // Session sections are those with a `lib=`: keep only this server's backend.
  return all
    .filter((s) => s.name === keep || !s.lines.some((l) => /^lib=/.test(l)))
    .flatMap((s) => s.lines)
    .join("\n");
}

/**
 * The session's clipboard and audio policy as xrdp's virtual channels: [Channels] cliprdr (the
 * clipboard) and rdpdr (drive redirection: files would cross the same way) follow `clipboard`,
 * rdpsnd follows `audio`; both are off unless the session asked for them. xrdp blocks a channel
 * set to false for every client, whatever the client requests; a backend section's own
 * `channel.<name>=` override is removed so it cannot turn one back on.
 */
function applyChannelPolicy(all: Section[], globals: Section, backend: string, config: ServerConfig): void {
  setKey(globals, "allow_channels", "true"); // [Channels] is read only then; every channel not listed there is blocked
  let channels = all.find((s) => s.name === "Channels");
  if (!channels) {
    channels = { name: "Channels", lines: ["[Channels]"] };
    all.splice(all.indexOf(globals) + 1, 0, channels);
  }
  const clipboard = config.clipboard === true ? "true" : "false";
  setKey(channels, "cliprdr", clipboard);
  setKey(channels, "rdpdr", clipboard);
  setKey(channels, "rdpsnd", config.audio === true ? "true" : "false");
  const section = all.find((s) => s.name === backend)!;
  section.lines = section.lines.filter((l) => !/^\s*channel\.(cliprdr|rdpdr|rdpsnd)\s*=/.test(l));
}

export function sesmanIni(o: { logFile: string; displayOffset: number; base?: string }): string {
  const all = sections(o.base ?? readFileSync(SYSTEM_SESMAN_INI, "utf8"));
  const logging = all.find((s) => s.name === "Logging");
  const sessions = all.find((s) => s.name === "Sessions");
  if (!logging || !sessions) throw new Error(`${SYSTEM_SESMAN_INI} lacks [Logging] or [Sessions]`);
  setKey(sessions, "X11DisplayOffset", String(o.displayOffset));
  setKey(logging, "LogFile", o.logFile);
  setKey(logging, "EnableSyslog", "false");
  return all.flatMap((s) => s.lines).join("\n");
}
