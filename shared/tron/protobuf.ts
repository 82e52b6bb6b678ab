/**
 * The few protobuf messages a TRON transaction needs (java-tron's Tron.proto and
 * contract/*.proto), encoded field by field. Only encoding lives here: the test double
 * decodes with tronweb's generated protobuf classes, so the two are checked against each other.
 */
const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;

export class ProtoWriter {
  readonly #parts: number[] = [];

  varint(field: number, value: bigint | number): this {
    let v = BigInt(value);
    if (v === 0n) return this; // proto3: default values are not written
    if (v < 0n) v += 1n << 64n; // int64 two's complement
    this.#tag(field, WIRE_VARINT);
    this.#varint(v);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    if (value.length === 0) return this;
    this.#tag(field, WIRE_LENGTH);
    this.#varint(BigInt(value.length));
    for (const byte of value) this.#parts.push(byte);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Uint8Array): this {
    // Embedded messages are written even when empty only if present; ours never are empty.
    return this.bytes(field, value);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  #varint(value: bigint): void {
    let v = value;
    while (v > 0x7fn) {
      this.#parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#parts.push(Number(v));
  }
}

/**
 * Reads the top-level length-delimited field `field` of a protobuf message (first occurrence),
 * skipping varint, 64-bit, length-delimited and 32-bit fields: enough to read a transaction's
 * memo (raw_data field 10) back out of the bytes its txid commits to.
 */
export function readBytesField(message: Uint8Array, field: number): Uint8Array | null {
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (offset >= message.length || shift > 63n) throw new RangeError("truncated varint");
      const byte = message[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (offset < message.length) {
    const key = varint();
    const wire = Number(key & 7n);
    const number = Number(key >> 3n);
    if (wire === WIRE_VARINT) varint();
    else if (wire === 1) offset += 8;
    else if (wire === 5) offset += 4;
    else if (wire === WIRE_LENGTH) {
      const length = Number(varint());
      if (offset + length > message.length) throw new RangeError("truncated field");
      if (number === field) return message.slice(offset, offset + length);
      offset += length;
    } else throw new RangeError(`unsupported wire type ${wire}`);
  }
  return null;
}
