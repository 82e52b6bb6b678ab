/**
 * One error type for the whole API, rendered as RFC 9457 application/problem+json.
 * `type` is a stable relative URI (`/problems/<slug>`) that the gateway also serves
 * as documentation, so clients can switch on it and humans can look it up.
 */
export const PROBLEM_TYPES = {
  "bad-request": { status: 400, title: "Bad request", description: "The request is malformed." },
  "validation-failed": {
    status: 400,
    title: "Validation failed",
    description: "A parameter, query, header or body field did not match its schema; `errors` lists each one.",
  },
  "malformed-json": { status: 400, title: "Malformed JSON", description: "The body is not valid JSON." },
  unauthorized: {
    status: 401,
    title: "Unauthorized",
    description: "Credentials are missing, malformed, expired or invalid.",
  },
  forbidden: { status: 403, title: "Forbidden", description: "The caller's role does not allow this action." },
  "not-found": { status: 404, title: "Not found", description: "No resource or route at this path." },
  "unknown-api-version": {
    status: 404,
    title: "Unknown API version",
    description: "Only /api/v1 exists. The `supported` member lists the versions this server speaks.",
  },
  "method-not-allowed": {
    status: 405,
    title: "Method not allowed",
    description: "The path exists but not with this method; the Allow header lists the methods it has.",
  },
  conflict: { status: 409, title: "Conflict", description: "The request conflicts with the resource's current state." },
  "legal-hold": {
    status: 409,
    title: "Under legal hold",
    description:
      "The session is under legal hold (`reason`, `since`): its chunks and data key may not be destroyed until an admin lifts the hold.",
  },
  "invalid-state": {
    status: 409,
    title: "Invalid state",
    description: "The resource's state does not allow this action; `state` gives the current state.",
  },
  "chunk-conflict": {
    status: 409,
    title: "Chunk conflict",
    description: "A different chunk (another SHA-256) is already stored at this index; chunks are immutable.",
  },
  "handover-pending": {
    status: 409,
    title: "Hand-over pending",
    description:
      "The session was handed to another node and the previous node has not declared how many chunks it recorded yet; retry after a few seconds (at most until its grace ends).",
  },
  "interaction-policy": {
    status: 409,
    title: "Not allowed by the interaction policy",
    description:
      "The session's interaction policy (`policy`: none, metadata or full, chosen at creation) does not record this: window titles need metadata or full, typed text needs full. Nothing was kept.",
  },
  "missing-chunks": {
    status: 409,
    title: "Missing chunks",
    description: "The session cannot be finalized with gaps; `missing` lists the chunk indices not yet stored.",
  },
  "digest-mismatch": {
    status: 400,
    title: "Digest mismatch",
    description: "The body's SHA-256 differs from its Content-Digest header (or its length from Content-Length); nothing was kept.",
  },
  gone: {
    status: 410,
    title: "Gone",
    description: "The data existed but was deleted (retention or deletion destroyed the chunks and the data key).",
  },
  "length-required": {
    status: 411,
    title: "Length required",
    description: "This upload needs a Content-Length header.",
  },
  "payload-too-large": {
    status: 413,
    title: "Payload too large",
    description: "The body is larger than this route accepts; `limit` gives the limit in bytes.",
  },
  "unsupported-media-type": {
    status: 415,
    title: "Unsupported media type",
    description: "The Content-Type is not one this route accepts.",
  },
  "upgrade-required": {
    status: 426,
    title: "Upgrade required",
    description: "This route is a WebSocket: send `Upgrade: websocket`.",
  },
  "range-not-satisfiable": {
    status: 416,
    title: "Range not satisfiable",
    description: "The Range header does not select any byte of the resource; `size` gives its length.",
  },
  "rate-limited": {
    status: 429,
    title: "Too many requests",
    description: "The client exceeded its request quota; wait for Retry-After seconds.",
  },
  "invalid-amount": {
    status: 400,
    title: "Invalid amount",
    description:
      "An amount is not a decimal string with at most 6 places, or lies outside the allowed range; `min` and `max` give the range.",
  },
  "invalid-address": { status: 400, title: "Invalid address", description: "Not a base58check TRON address (T…)." },
  "idempotency-key-required": {
    status: 400,
    title: "Idempotency-Key required",
    description: "Every POST to the payments API needs an Idempotency-Key header (1–128 characters of A–Z a–z 0–9 _ - : .).",
  },
  "kyc-required": {
    status: 403,
    title: "KYC required",
    description: "The amount exceeds the KYC threshold (`threshold`) and the recipient has no KYC flag set by an admin.",
  },
  "insufficient-funds": {
    status: 409,
    title: "Insufficient funds",
    description:
      "The paying wallet's balance, less what is already committed, does not cover this; `available` and `needed` say by how much.",
  },
  "request-in-progress": {
    status: 409,
    title: "Request in progress",
    description: "A request with this Idempotency-Key is still being processed; retry after it finishes.",
  },
  "idempotency-key-reused": {
    status: 422,
    title: "Idempotency-Key reused",
    description: "This Idempotency-Key was already used for a different request.",
  },
  "login-throttled": {
    status: 429,
    title: "Too many failed logins",
    description: "Failed logins for this address or client earned a back-off; retry after Retry-After seconds.",
  },
  "pool-full": {
    status: 409,
    title: "Node pool full",
    description: "The node pool already holds its maximum number of nodes; omit `pool` to be placed in one with room.",
  },
  "insufficient-resources": {
    status: 400,
    title: "Insufficient resources",
    description: "The node's declared resources are below the configured minimums; `shortfalls` names each one.",
  },
  "invalid-signature": {
    status: 401,
    title: "Invalid signature",
    description: "The Ed25519 signature does not verify against the node's key over the canonical message.",
  },
  "clock-skew": {
    status: 400,
    title: "Clock skew",
    description: "The signed timestamp is further from the server's clock than the configured bound (`maxSkewSeconds`).",
  },
  "heartbeat-replayed": {
    status: 409,
    title: "Heartbeat replayed",
    description: "A heartbeat with this sequence number was already accepted; nothing was stored.",
  },
  "heartbeat-out-of-order": {
    status: 409,
    title: "Heartbeat out of order",
    description: "The sequence number is below the last accepted one (`lastSeq`); nothing was stored.",
  },
  "heartbeat-challenge": {
    status: 409,
    title: "Heartbeat challenge mismatch",
    description:
      "The beat did not sign the pool's current challenge (absent, stale or made up); nothing was stored. `challenge` carries the current one: sign it in the next beat.",
  },
  "heartbeat-seq-out-of-window": {
    status: 409,
    title: "Heartbeat sequence out of window",
    description: "The sequence number is more than `seqWindow` above the last accepted one (`lastSeq`); nothing was stored.",
  },
  "report-out-of-bounds": {
    status: 422,
    title: "Report out of bounds",
    description: "A figure in the heartbeat report exceeds what the node declared at enrolment (`field`, `max`); nothing was stored.",
  },
  "credential-revoked": {
    status: 401,
    title: "Node credential revoked",
    description: "The node credential was revoked, or its node is suspended or terminated.",
  },
  "unknown-node": {
    status: 422,
    title: "Unknown node",
    description: "The request names a node that is not registered; `nodeId` gives it.",
  },
  "node-state-conflict": {
    status: 409,
    title: "Node state conflict",
    description: "The node's current state does not allow this action (`state` gives it).",
  },
  "payout-below-threshold": {
    status: 409,
    title: "Payout below threshold",
    description: "The node's accrued earnings are below the automatic payout threshold.",
  },
  "payout-exceeds-earnings": {
    status: 409,
    title: "Payout exceeds earnings",
    description: "An operator may request at most the node's available accrued balance (accrued − requested − paid); `available` gives it.",
  },
  "payout-address-mismatch": {
    status: 403,
    title: "Not the node's payout address",
    description: "An operator's payouts go only to the node's registered payout address; `payoutAddress` gives it.",
  },
  "payout-address-cooling-down": {
    status: 409,
    title: "Payout address cooling down",
    description: "The node's payout address changed recently; it receives nothing before `usableAt`.",
  },
  "internal-error": {
    status: 500,
    title: "Internal error",
    description: "Something failed on the server. The request id identifies it in the logs.",
  },
  "chunk-corrupt": {
    status: 500,
    title: "Stored chunk damaged",
    description:
      "The chunk store holds bytes for this chunk that do not match what was received (truncated or altered). Nothing damaged is served; the event is in the audit log as `chunks.integrity_failure`.",
  },
  "config-invalid": {
    status: 500,
    title: "Server misconfigured",
    description: "A configuration variable or secret is missing or malformed; `errors` names each one.",
  },
  lockdown: {
    status: 503,
    title: "Emergency lockdown",
    description:
      "An administrator put Lucid into emergency lockdown: every write except an admin's (and logging in) is refused until it is lifted; reads continue. `reason` and `since` say why and since when.",
  },
  "sessions-shutdown": {
    status: 503,
    title: "New sessions shut down",
    description: "An administrator shut down the creation of new sessions; existing sessions continue. Retry once it is lifted.",
  },
  "recordings-halted": {
    status: 503,
    title: "Recordings halted",
    description:
      "An administrator halted all recordings: sessions cannot start and chunks are not accepted. Agents keep their spool and retry later.",
  },
  "step-up-throttled": {
    status: 429,
    title: "Too many wrong step-up codes",
    description: "Wrong TOTP or recovery codes for privileged actions earned this user a back-off; retry after Retry-After seconds.",
  },
  "second-factor-required": {
    status: 403,
    title: "Second factor required",
    description:
      "This action needs a current TOTP code (`totpCode`) or a recovery code (`recoveryCode`) of the caller's enrolled authenticator.",
  },
  "rdp-pool-exhausted": {
    status: 503,
    title: "RDP port pool exhausted",
    description: "The host runs its maximum number of RDP servers (or every port of its range is taken); `maxServers` gives the limit.",
  },
  "port-not-allocated": {
    status: 409,
    title: "Port not allocated",
    description: "The server holds no port: it was already released (a second release changes nothing).",
  },
  "host-offline": {
    status: 503,
    title: "Host offline",
    description: "The host's agent is not connected to its channel; the desktop cannot be started there now.",
  },
  "service-unavailable": {
    status: 503,
    title: "Service unavailable",
    description: "A dependency did not answer in time; retry later.",
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export function problemTypeUri(slug: ProblemSlug): string {
  return `/problems/${slug}`;
}

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;

  constructor(
    readonly slug: ProblemSlug,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(detail ?? PROBLEM_TYPES[slug].title, options);
    this.status = PROBLEM_TYPES[slug].status;
  }

  toProblem(instance?: string): Problem {
    const { title, status } = PROBLEM_TYPES[this.slug];
    return {
      type: problemTypeUri(this.slug),
      title,
      status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}
