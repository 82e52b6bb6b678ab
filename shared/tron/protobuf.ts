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
