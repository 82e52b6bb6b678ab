import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { TronWeb, Trx } from "tronweb";
import { describe, expect, it } from "vitest";
import {
  addressFromPrivateKey,
  addressToHex,
  hashMessageV2,
  isTronAddress,
  recoverMessageV2Signer,
  signMessageV2,
  verifyMessageV2,
} from "../../shared/tron/message-signature.ts";

// Reference vectors: ../shared/reference/tron.md (private key 0x00…01).
const KEY_ONE = hexToBytes("00".repeat(31) + "01");
const KEY_ONE_ADDRESS = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC";
const HELLO_SIGNATURE =
  "0x6db8a463456f346a8e40c3531ae4458f8328530d55c3c755c51c280627faa13f52e982bb14810f68bc1212860878886b62eaa74615d202cf5e247876b45224c31b";

describe("TRON addresses and TIP-191 signatures (@noble) against the reference vectors", () => {
  it("derives the address of key 1, in base58 and hex", () => {
    expect(addressFromPrivateKey(KEY_ONE)).toBe(KEY_ONE_ADDRESS);
    expect(addressToHex(KEY_ONE_ADDRESS)).toBe("417e5f4552091a69125d5dfcb7b8c2659029395bdf");
    expect(addressToHex("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")).toBe("41a614f803b6fd780986a42c78ec9c7f77e6ded13c");
  });

  it('hashes and signs "hello tron" exactly as the vectors say', () => {
    expect(bytesToHex(hashMessageV2("hello tron"))).toBe("85fdc81d273d14847afd4ef8b63674e9c9b9a285f00c4fcc792e541a98d25c16");
    expect(signMessageV2("hello tron", KEY_ONE)).toBe(HELLO_SIGNATURE);
    expect(recoverMessageV2Signer("hello tron", HELLO_SIGNATURE)).toBe(KEY_ONE_ADDRESS);
  });

  it("rejects checksum errors, wrong prefixes and junk as addresses", () => {
    expect(isTronAddress(KEY_ONE_ADDRESS)).toBe(true);
    expect(isTronAddress(KEY_ONE_ADDRESS.slice(0, -1) + "D")).toBe(false);
    expect(isTronAddress("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")).toBe(false);
    expect(isTronAddress("T" + "1".repeat(33))).toBe(false);
    expect(isTronAddress("")).toBe(false);
  });

  it("a signature over another message, by another key, or tampered, does not verify", () => {
    expect(verifyMessageV2("hello tron!", HELLO_SIGNATURE, KEY_ONE_ADDRESS)).toBe(false);
    const other = secp256k1.utils.randomSecretKey();
    expect(verifyMessageV2("hello tron", signMessageV2("hello tron", other), KEY_ONE_ADDRESS)).toBe(false);
    const flipped = HELLO_SIGNATURE.slice(0, 10) + (HELLO_SIGNATURE[10] === "0" ? "1" : "0") + HELLO_SIGNATURE.slice(11);
    expect(verifyMessageV2("hello tron", flipped, KEY_ONE_ADDRESS)).toBe(false);
  });

  it("malformed signatures throw a TronSignatureError and verify() answers false", () => {
    for (const bad of ["", "0x", "0x1234", HELLO_SIGNATURE + "00", HELLO_SIGNATURE.slice(0, -2) + "1d", "0x" + "zz".repeat(65)]) {
      expect(() => recoverMessageV2Signer("hello tron", bad)).toThrow(/signature|recovery/);
      expect(verifyMessageV2("hello tron", bad, KEY_ONE_ADDRESS)).toBe(false);
    }
    // r = 0 recovers no key.
    expect(verifyMessageV2("hello tron", "0x" + "00".repeat(64) + "1b", KEY_ONE_ADDRESS)).toBe(false);
  });

  it("refuses the high-S twin of a valid signature (malleability)", () => {
    const sig = hexToBytes(HELLO_SIGNATURE.slice(2));
    const s = BigInt("0x" + bytesToHex(sig.subarray(32, 64)));
    const highS = (secp256k1.Point.CURVE().n - s).toString(16).padStart(64, "0");
    const flippedV = sig[64] === 27 ? "1c" : "1b";
    const twin = "0x" + bytesToHex(sig.subarray(0, 32)) + highS + flippedV;
    expect(verifyMessageV2("hello tron", twin, KEY_ONE_ADDRESS)).toBe(false);
  });
});

describe("agrees with tronweb's Trx.signMessageV2 / verifyMessageV2", () => {
  it("for random keys and messages, both ways", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string({ maxLength: 200 }), async (seed, message) => {
        fc.pre(secp256k1.utils.isValidSecretKey(seed));
        const keyHex = bytesToHex(seed);
        const address = TronWeb.address.fromPrivateKey(keyHex);
        expect(addressFromPrivateKey(seed)).toBe(address);
        const theirs = Trx.signMessageV2(message, keyHex);
        expect(recoverMessageV2Signer(message, theirs)).toBe(address);
        const ours = signMessageV2(message, seed);
        expect(ours).toBe(theirs); // RFC 6979 deterministic k: identical bytes
        expect(Trx.verifyMessageV2(message, ours)).toBe(address);
      }),
      { numRuns: 40 },
    );
  });

  it("for tronweb-created accounts and a login-challenge-shaped message", async () => {
    const account = (await TronWeb.createAccount()) as unknown as { privateKey: string; address: { base58: string } };
    const message = `lucid.test wants you to sign in with your TRON account:\n${account.address.base58}\n\nNonce: abc\nIssued At: 2026-11-25T19:00:00.000Z`;
    const signature = Trx.signMessageV2(message, account.privateKey);
    expect(verifyMessageV2(message, signature, account.address.base58)).toBe(true);
  });
});
