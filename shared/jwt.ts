/**
 * HS256 JSON Web Tokens on WebCrypto, with the algorithm pinned and a `kid` per key so
 * JWT_SECRET_KEY can rotate while tokens signed with JWT_SECRET_KEY_PREVIOUS still verify.
 *
 * Verification runs on every request, so imported keys are cached in a keyring built once
 * per configuration, and nothing else is awaited. Only `{"alg":"HS256","typ":"JWT","kid"?}`
 * headers are accepted: `alg: none`, RS/ES algorithms and `crit`/`jku`/`jwk` tricks are refused.
 * A token without `kid` is checked against the current key only.
 */
import { base64urlnopad } from "@scure/base";

export type JwtPayload = Record<string, unknown> & { exp: number };

export type JwtFailure = "malformed" | "algorithm" | "unknown-key" | "signature" | "expired" | "not-yet-valid";

// No TypeScript-only syntax (parameter properties) here: benches run this file on Node's type stripping.
export class JwtError extends Error {
  override name = "JwtError";
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** WebCrypto's key type, spelled so it resolves under both workers-types and Node's types. */
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

interface KeyEntry {
  kid: string;
  key: HmacKey;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;
/** Clock skew tolerated for `iat`/`nbf` between isolates (seconds). */
const SKEW_SECONDS = 30;

function encodeJson(value: unknown): string {
  return base64urlnopad.encode(encoder.encode(JSON.stringify(value)));
}

function decodeJson(part: string): unknown {
  return JSON.parse(decoder.decode(base64urlnopad.decode(part)));
}

/** Stable key id: the first 12 base64url characters of SHA-256("lucid-jwt-kid:" ‖ secret). */
async function keyIdOf(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`lucid-jwt-kid:${secret}`));
  return base64urlnopad.encode(new Uint8Array(digest)).slice(0, 12);
}

async function importKey(secret: string): Promise<KeyEntry> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  return { kid: await keyIdOf(secret), key };
}

export class JwtKeyring {
  private readonly current: KeyEntry;
  private readonly previous: KeyEntry | undefined;

  private constructor(current: KeyEntry, previous: KeyEntry | undefined) {
    this.current = current;
    this.previous = previous;
  }

  static async create(currentSecret: string, previousSecret?: string): Promise<JwtKeyring> {
    const current = await importKey(currentSecret);
    const previous = previousSecret && previousSecret !== currentSecret ? await importKey(previousSecret) : undefined;
    return new JwtKeyring(current, previous);
  }

  get currentKid(): string {
    return this.current.kid;
  }

  /** Signs with the current key; `payload.exp` is required (seconds since the epoch). */
  async sign(payload: JwtPayload): Promise<string> {
    const signingInput = `${encodeJson({ alg: "HS256", typ: "JWT", kid: this.current.kid })}.${encodeJson(payload)}`;
    const mac = await crypto.subtle.sign("HMAC", this.current.key, encoder.encode(signingInput));
    return `${signingInput}.${base64urlnopad.encode(new Uint8Array(mac))}`;
  }

  /** The payload of a valid, unexpired token signed by a key of this ring; else JwtError. */
  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<JwtPayload> {
    if (!TOKEN_SHAPE.test(token)) throw new JwtError("malformed", "not a compact HS256 JWS");
    const [headerPart, payloadPart, signaturePart] = token.split(".") as [string, string, string];
    let header: unknown;
    try {
      header = decodeJson(headerPart);
    } catch {
      throw new JwtError("malformed", "header is not base64url JSON");
    }
    const entry = this.#keyFor(header);
    let signature: Uint8Array;
    try {
      signature = base64urlnopad.decode(signaturePart);
    } catch {
      throw new JwtError("malformed", "signature is not base64url");
    }
    // WebCrypto's HMAC verify compares in constant time.
    const ok = await crypto.subtle.verify("HMAC", entry.key, signature, encoder.encode(`${headerPart}.${payloadPart}`));
    if (!ok) throw new JwtError("signature", "signature does not match");
    let payload: unknown;
    try {
      payload = decodeJson(payloadPart);
    } catch {
      throw new JwtError("malformed", "payload is not base64url JSON");
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      throw new JwtError("malformed", "payload is not an object");
    }
    const claims = payload as Record<string, unknown>;
    if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) throw new JwtError("malformed", "exp is required");
    if (claims.exp <= nowSeconds) throw new JwtError("expired", "token expired");
    if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > nowSeconds + SKEW_SECONDS)) {
      throw new JwtError("not-yet-valid", "token not valid yet");
    }
    if (claims.iat !== undefined && (typeof claims.iat !== "number" || claims.iat > nowSeconds + SKEW_SECONDS)) {
      throw new JwtError("not-yet-valid", "token issued in the future");
    }
    return claims as JwtPayload;
  }

  #keyFor(header: unknown): KeyEntry {
    if (typeof header !== "object" || header === null || Array.isArray(header)) {
      throw new JwtError("malformed", "header is not an object");
    }
    const { alg, typ, kid, ...rest } = header as Record<string, unknown>;
    if (alg !== "HS256") throw new JwtError("algorithm", `algorithm ${String(alg)} is not accepted`);
    if (typ !== undefined && typ !== "JWT") throw new JwtError("malformed", "typ must be JWT");
    if (Object.keys(rest).length > 0) throw new JwtError("malformed", "unexpected header parameters");
    if (kid === undefined) return this.current;
    if (kid === this.current.kid) return this.current;
    if (this.previous && kid === this.previous.kid) return this.previous;
    throw new JwtError("unknown-key", "unknown kid");
  }
}
