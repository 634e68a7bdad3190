/**
 * Bit-level writer and reader for the binary wire formats. Numbers are JavaScript numbers up to 2^53 (seq, ms
 * timestamps and scaled odometers exceed 32 bits), so the arithmetic avoids 32-bit bitwise operators above 2^30.
 *
 * Codes used by the formats:
 * - `bits(n)`: n raw bits, most significant first.
 * - `eg(k)`: Exp-Golomb of order k (ITU-T H.264 section 9.1 generalised to order k): small values cost k+1 bits,
 *   each doubling costs 2 more. Chosen per field so typical deltas are short.
 * - `signed(k)`: magnitude as eg(k), then a sign bit when the magnitude is not zero (no zigzag, so no overflow).
 * - `uintLen`: 6-bit bit length, then the bits below the leading one: for values whose size nobody can predict.
 *
 * The reader is for untrusted input: every read is bounded and failures throw FleetError FLEET_PAYLOAD_INVALID,
 * which the codec turns into a DecodeResult.
 */
import { FleetError } from "../common/errors.ts";

const MAX_BITS = 53;
const TWO_24 = 2 ** 24;

function bitLength(value: number): number {
  let n = 0;
  let v = value;
  while (v >= TWO_24) {
    v = Math.floor(v / TWO_24);
    n += 24;
  }
  while (v > 0) {
    v >>>= 1;
    n += 1;
  }
  return n;
}

export class BitWriter {
  private bytes: Uint8Array;
  private length = 0; // whole bytes written
  private current = 0; // bits of the byte being filled, left-aligned as they arrive
  private used = 0; // bits used in `current`

  constructor(prefix: Uint8Array = new Uint8Array(0), capacity = 256) {
    this.bytes = new Uint8Array(Math.max(capacity, prefix.length * 2));
    this.bytes.set(prefix);
    this.length = prefix.length;
  }

  bit(value: boolean | number): void {
    this.current = (this.current << 1) | (value ? 1 : 0);
    this.used += 1;
    if (this.used === 8) {
      this.push(this.current);
      this.current = 0;
      this.used = 0;
    }
  }

  /** Writes the low `n` bits of a non-negative integer `value` (n <= 53). */
  bits(value: number, n: number): void {
    if (n > 24) {
      const high = Math.floor(value / TWO_24);
      this.bits(high, n - 24);
      this.bits(value - high * TWO_24, 24);
      return;
    }
    for (let i = n - 1; i >= 0; i--) this.bit((value >>> i) & 1);
  }

  eg(value: number, k: number): void {
    const w = value + 2 ** k;
    const n = bitLength(w);
    for (let i = 0; i < n - k - 1; i++) this.bit(0);
    this.bits(w, n);
  }

  signed(value: number, k: number): void {
    this.eg(Math.abs(value), k);
    if (value !== 0) this.bit(value < 0);
  }

  uintLen(value: number): void {
    const n = bitLength(value);
    this.bits(n, 6);
    if (n > 1) this.bits(value - 2 ** (n - 1), n - 1);
  }

  byteString(bytes: Uint8Array): void {
    for (const b of bytes) this.bits(b, 8);
  }

  /** Pads the last byte with zero bits and returns the bytes written. */
  finish(): Buffer {
    if (this.used > 0) {
      this.push(this.current << (8 - this.used));
      this.current = 0;
      this.used = 0;
    }
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.length);
  }

  private push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }
}

export class BitReader {
  private position: number; // in bits
  private readonly end: number;

  constructor(
    private readonly bytes: Uint8Array,
    startByte: number,
    private readonly what: string,
  ) {
    this.position = startByte * 8;
    this.end = bytes.length * 8;
  }

  fail(message: string): never {
    throw new FleetError("FLEET_PAYLOAD_INVALID", `${this.what}: ${message} (at bit ${this.position})`);
  }

  bit(): number {
    if (this.position >= this.end) this.fail("payload ends early");
    const byte = this.bytes[this.position >>> 3]!;
    const b = (byte >>> (7 - (this.position & 7))) & 1;
    this.position += 1;
    return b;
  }

  /**
   * Reads up to a byte's remaining bits per step rather than one bit at a time: the bridge decodes every record with
   * this reader, and the bit-at-a-time loop was most of a one-record decode (issue 21). Same results and the same
   * errors (a read past the end fails at the end, as the bit-at-a-time loop did).
   */
  bits(n: number): number {
    if (n > 24) {
      const high = this.bits(n - 24);
      return high * TWO_24 + this.bits(24);
    }
    let p = this.position;
    if (p + n > this.end) {
      this.position = this.end;
      this.fail("payload ends early");
    }
    let v = 0;
    let left = n;
    while (left > 0) {
      const available = 8 - (p & 7);
      const take = available < left ? available : left;
      v = (v << take) | ((this.bytes[p >>> 3]! >>> (available - take)) & ((1 << take) - 1));
      p += take;
      left -= take;
    }
    this.position = p;
    return v >>> 0;
  }

  eg(k: number): number {
    // The leading zeros, a byte's remaining bits at a time (Math.clz32 finds the first 1 in a byte).
    const limit = MAX_BITS - k - 1; // more zeros than this: the number cannot be represented
    const start = this.position;
    let zeros = 0;
    for (;;) {
      if (this.position >= this.end) this.fail("payload ends early");
      const offset = this.position & 7;
      const rest = (this.bytes[this.position >>> 3]! << offset) & 0xff;
      const run = rest === 0 ? 8 - offset : Math.clz32(rest) - 24;
      if (zeros + run > limit) {
        this.position = start + limit + 1;
        this.fail("number too large");
      }
      zeros += run;
      this.position += run;
      if (rest !== 0) break;
    }
    this.position += 1; // the leading 1
    const n = zeros + k;
    const rest = this.bits(n);
    // Below 2^30 in 32-bit integers (the common case: short deltas); above, in doubles (exact up to 2^53).
    return n < 30 ? ((1 << n) | rest) - (1 << k) : 2 ** n + rest - 2 ** k;
  }

  signed(k: number): number {
    const magnitude = this.eg(k);
    return magnitude !== 0 && this.bit() === 1 ? -magnitude : magnitude;
  }

  uintLen(): number {
    const n = this.bits(6);
    if (n > MAX_BITS) this.fail(`bit length ${n} too large`);
    if (n === 0) return 0;
    return 2 ** (n - 1) + (n > 1 ? this.bits(n - 1) : 0);
  }

  byteString(length: number): Uint8Array {
    if (this.position + length * 8 > this.end) this.fail("payload ends early");
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.bits(8);
    return out;
  }

  /** The encoder pads with fewer than 8 zero bits; anything more is corruption or a payload we do not understand. */
  expectEnd(): void {
    const left = this.end - this.position;
    if (left >= 8) this.fail(`${Math.floor(left / 8)} unexpected trailing bytes`);
    if (left > 0 && this.bits(left) !== 0) this.fail("non-zero padding bits");
  }
}
