import { z } from "@hono/zod-openapi";
import { ROLES } from "../../shared/rbac.ts";
import { isTronAddress, TRON_ADDRESS_PATTERN } from "../../shared/tron/message-signature.ts";

export const TronAddress = z
  .string()
  .regex(TRON_ADDRESS_PATTERN, "must be a base58 TRON address (T…, 34 characters)")
  .refine(isTronAddress, "has a bad base58check checksum or prefix")
  .openapi({ example: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC" });

/** What signed the challenge, as the client declares it (verification is the same for all). */
export const WalletKind = z.enum(["software", "tronlink", "ledger", "trezor", "keepkey", "other"]);

/** Loosely typed on purpose: a malformed signature is a failed login (401), like a wrong one. */
const Signature = z
  .string()
  .min(1)
  .max(200)
  .openapi({ description: "65-byte signature in hex: r ‖ s ‖ v (TIP-191 signMessageV2)", example: "0x6db8…1b" });

const TotpCode = z.string().regex(/^\d{6}$/, "must be 6 digits");
const RecoveryCode = z
  .string()
  .min(8)
  .max(40)
  .regex(/^[A-Za-z2-7\s-]+$/, "must be a recovery code");

const SecondFactorFields = {
  totpCode: TotpCode.optional().openapi({ description: "Required for ADMIN and SUPER_ADMIN accounts with TOTP" }),
  recoveryCode: RecoveryCode.optional().openapi({ description: "Instead of totpCode: one of the one-time recovery codes" }),
};

export const ChallengeRequest = z.object({ address: TronAddress, walletKind: WalletKind.optional() }).strict().openapi("ChallengeRequest");

export const ChallengeResponse = z
  .object({
    address: z.string(),
    domain: z.string().openapi({ description: "The host of the server's configured public origin" }),
    uri: z.string().openapi({ description: "The server's configured public origin (PUBLIC_ORIGIN)" }),
    nonce: z.string(),
    issuedAt: z.string().openapi({ format: "date-time" }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    message: z.string().openapi({ description: "Sign exactly this with TIP-191 signMessageV2" }),
  })
  .openapi("Challenge");

/** Names which of the address's outstanding challenges is answered (several may be open). */
const ChallengeNonce = z
  .string()
  .regex(/^[0-9a-f]{32}$/, "must be the challenge's nonce (32 hex digits)")
  .openapi({ description: "The `nonce` of the challenge that was signed", example: "9f86d081884c7d659a2feaa0c55ad015" });

export const VerifyRequest = z
  .object({ address: TronAddress, nonce: ChallengeNonce, signature: Signature, walletKind: WalletKind.optional(), ...SecondFactorFields })
  .strict()
  .openapi("VerifyRequest");

export const RefreshRequest = z
  .object({
    refreshToken: z
      .string()
      .min(10)
      .max(200)
      .regex(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/, "is not a Lucid refresh token"),
  })
  .strict()
  .openapi("RefreshRequest");

export const MagicLinkRequest = z
  .object({ email: z.string().email().max(254) })
  .strict()
  .openapi("MagicLinkRequest");

export const MagicLinkVerifyRequest = z
  .object({ token: z.string().regex(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/, "is not a Lucid magic-link token"), ...SecondFactorFields })
  .strict()
  .openapi("MagicLinkVerifyRequest");

export const RoleSchema = z.enum(ROLES);

export const TokenResponse = z
  .object({
    tokenType: z.literal("Bearer"),
    accessToken: z.string(),
    expiresIn: z.number().int().openapi({ description: "Access token lifetime in seconds" }),
    refreshToken: z.string(),
    refreshExpiresAt: z.string().openapi({ format: "date-time" }),
    sessionId: z.string(),
    user: z.object({ id: z.string(), role: RoleSchema, tronAddress: z.string().nullable() }),
    effectiveRole: RoleSchema.openapi({ description: "The role the tokens carry (USER until an ADMIN+ enrols TOTP)" }),
    secondFactor: z.enum(["passed", "not-required", "enrolment-required"]),
  })
  .openapi("Tokens");

export const SessionSchema = z
  .object({
    id: z.string(),
    method: z.string(),
    walletKind: z.string().nullable(),
    secondFactor: z.boolean(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    lastUsedAt: z.string().openapi({ format: "date-time" }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    current: z.boolean(),
  })
  .openapi("Session");

export const SessionIdParam = z.object({ id: z.string().uuid("must be a session id (UUID)") });

export const TotpConfirmRequest = z.object({ code: TotpCode }).strict().openapi("TotpConfirmRequest");
