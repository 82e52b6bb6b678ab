import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { addressFromPublicKey, toHexAddress } from "./address.ts";
import { ProtoWriter } from "./protobuf.ts";

/** The JSON shape java-tron's HTTP API uses for a transaction (visible = false: 41-hex addresses). */
export interface TronContractJson {
  type: ContractTypeName;
  parameter: { type_url: string; value: Record<string, string | number> };
}
export interface TronTransaction {
  visible: false;
  txID: string;
  raw_data: {
    contract: TronContractJson[];
    ref_block_bytes: string;
    ref_block_hash: string;
    expiration: number;
    timestamp: number;
    fee_limit?: number;
    /** The memo (raw_data.data), hex. */
    data?: string;
  };
  raw_data_hex: string;
  signature?: string[];
}

/** The block a transaction refers to (TAPOS): from /wallet/getnowblock. */
export interface BlockRef {
  number: number;
  blockID: string;
  timestamp: number;
}

const CONTRACT_TYPES = {
  TransferContract: 1,
  TriggerSmartContract: 31,
  FreezeBalanceV2Contract: 54,
  UnfreezeBalanceV2Contract: 55,
  WithdrawExpireUnfreezeContract: 56,
} as const;
export type ContractTypeName = keyof typeof CONTRACT_TYPES;
export type Resource = "BANDWIDTH" | "ENERGY";
const RESOURCE_CODES: Record<Resource, number> = { BANDWIDTH: 0, ENERGY: 1 };

/** How long a signed transaction stays valid: TRON's default, block time + 60 s. */
export const EXPIRATION_MS = 60_000;

export type ContractSpec =
  | { type: "TransferContract"; owner: string; to: string; amount: bigint }
  | { type: "TriggerSmartContract"; owner: string; contract: string; data: string; callValue?: bigint }
  | { type: "FreezeBalanceV2Contract"; owner: string; amount: bigint; resource: Resource }
  | { type: "UnfreezeBalanceV2Contract"; owner: string; amount: bigint; resource: Resource }
  | { type: "WithdrawExpireUnfreezeContract"; owner: string };

function contractValue(spec: ContractSpec): { json: Record<string, string | number>; proto: Uint8Array } {
  const owner = toHexAddress(spec.owner);
  const w = new ProtoWriter().bytes(1, hexToBytes(owner));
  switch (spec.type) {
    case "TransferContract": {
      const to = toHexAddress(spec.to);
      w.bytes(2, hexToBytes(to)).varint(3, spec.amount);
      return { json: { owner_address: owner, to_address: to, amount: Number(spec.amount) }, proto: w.finish() };
    }
    case "TriggerSmartContract": {
      const contract = toHexAddress(spec.contract);
      const callValue = spec.callValue ?? 0n;
      w.bytes(2, hexToBytes(contract)).varint(3, callValue).bytes(4, hexToBytes(spec.data));
      const json: Record<string, string | number> = { data: spec.data, owner_address: owner, contract_address: contract };
      if (callValue > 0n) json.call_value = Number(callValue);
      return { json, proto: w.finish() };
    }
    case "FreezeBalanceV2Contract":
    case "UnfreezeBalanceV2Contract": {
      w.varint(2, spec.amount).varint(3, RESOURCE_CODES[spec.resource]);
      const amountKey = spec.type === "FreezeBalanceV2Contract" ? "frozen_balance" : "unfreeze_balance";
      const json: Record<string, string | number> = { owner_address: owner, [amountKey]: Number(spec.amount) };
      if (spec.resource !== "BANDWIDTH") json.resource = spec.resource;
      return { json, proto: w.finish() };
    }
    case "WithdrawExpireUnfreezeContract":
      return { json: { owner_address: owner }, proto: w.finish() };
  }
}

/** Builds an unsigned transaction against a reference block; txID = SHA-256(raw_data protobuf). */
export function buildTransaction(
  spec: ContractSpec,
  ref: BlockRef,
  options: { feeLimit?: bigint; now?: number; memo?: Uint8Array } = {},
): TronTransaction {
  const { json, proto } = contractValue(spec);
  const typeUrl = `type.googleapis.com/protocol.${spec.type}`;
  const any = new ProtoWriter().string(1, typeUrl).bytes(2, proto).finish();
  const contract = new ProtoWriter().varint(1, CONTRACT_TYPES[spec.type]).message(2, any).finish();

  const refBlockBytes = ref.number.toString(16).padStart(8, "0").slice(-4);
  const refBlockHash = ref.blockID.slice(16, 32);
  const expiration = ref.timestamp + EXPIRATION_MS;
  const timestamp = options.now ?? ref.timestamp;
  const raw = new ProtoWriter()
    .bytes(1, hexToBytes(refBlockBytes))
    .bytes(4, hexToBytes(refBlockHash))
    .varint(8, expiration)
    .bytes(10, options.memo ?? new Uint8Array())
    .message(11, contract)
    .varint(14, timestamp);
  if (options.feeLimit !== undefined) raw.varint(18, options.feeLimit);
  const rawBytes = raw.finish();

  return {
    visible: false,
    txID: bytesToHex(sha256(rawBytes)),
    raw_data: {
      contract: [{ parameter: { value: json, type_url: typeUrl }, type: spec.type }],
      ref_block_bytes: refBlockBytes,
      ref_block_hash: refBlockHash,
      expiration,
      timestamp,
      ...(options.feeLimit !== undefined ? { fee_limit: Number(options.feeLimit) } : {}),
      ...(options.memo?.length ? { data: bytesToHex(options.memo) } : {}),
    },
    raw_data_hex: bytesToHex(rawBytes),
  };
}

/** The transaction id of a raw_data protobuf (hex). */
export function txIdOf(rawDataHex: string): string {
  return bytesToHex(sha256(hexToBytes(rawDataHex)));
}

/** Signs txID with secp256k1: r ‖ s ‖ (recovery id + 27), as java-tron and tronweb expect. */
export function signTransaction(tx: TronTransaction, privateKey: Uint8Array): TronTransaction {
  if (txIdOf(tx.raw_data_hex) !== tx.txID) throw new Error("txID does not match raw_data_hex");
  const recovered = secp256k1.sign(hexToBytes(tx.txID), privateKey, { prehash: false, format: "recovered" });
  // noble's "recovered" format is recovery ‖ r ‖ s; TRON's is r ‖ s ‖ v.
  const signature = new Uint8Array(65);
  signature.set(recovered.subarray(1), 0);
  signature[64] = recovered[0]! + 27;
  return { ...tx, signature: [...(tx.signature ?? []), bytesToHex(signature)] };
}

/** The base58 address that produced a TRON signature over txID. */
export function recoverSigner(txID: string, signatureHex: string): string {
  const sig = hexToBytes(signatureHex);
  if (sig.length !== 65) throw new Error("signature must be 65 bytes");
  const v = sig[64]! >= 27 ? sig[64]! - 27 : sig[64]!;
  const recovered = new Uint8Array(65);
  recovered[0] = v;
  recovered.set(sig.subarray(0, 64), 1);
  const publicKey = secp256k1.recoverPublicKey(recovered, hexToBytes(txID), { prehash: false });
  return addressFromPublicKey(publicKey);
}
