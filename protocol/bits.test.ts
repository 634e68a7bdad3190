/**
 * BitReader reads several bits per step (the bridge decodes every record with it, issue 21). These tests hold it to
 * the plain definition, one bit at a time, on random bytes and random read sequences: the same values, and the same
 * errors at the same bit positions (truncated payloads and over-long Exp-Golomb codes are what untrusted input does).
 */
import { describe, expect, it } from "vitest";
import { BitReader, BitWriter } from "./bits.ts";

/** The reference: each code as its definition reads it, one bit at a time (bits.ts' header). */
class OneBitReader {
  position: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.position = 0;
  }
  fail(message: string): never {
    throw new Error(`${this.what}: ${message} (at bit ${this.position})`);
  }
  bit(): number {
    if (this.position >= this.bytes.length * 8) this.fail("payload ends early");
    const b = (this.bytes[this.position >>> 3]! >>> (7 - (this.position & 7))) & 1;
    this.position += 1;
    return b;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  eg(k: number): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros += 1;
      if (zeros + k + 1 > 53) this.fail("number too large");
    }
    return 2 ** (zeros + k) + this.bits(zeros + k) - 2 ** k;
  }
}

/** A deterministic generator, so a failure names its seed and repeats. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

type Op = { kind: "bit" } | { kind: "bits"; n: number } | { kind: "eg"; k: number };

function outcome(read: () => number): number | string {
  try {
    return read();
  } catch (error) {
    return (error as Error).message;
  }
}

describe("BitReader", () => {
  it("reads what the one-bit-at-a-time definition reads, errors and their positions included", () => {
    for (let seed = 1; seed <= 3000; seed += 1) {
      const next = random(seed);
      // Sparse bytes make long runs of zeros (long Exp-Golomb prefixes, "number too large"); short ones run out.
      const zeroBias = next();
      const bytes = Uint8Array.from({ length: Math.floor(next() * 24) }, () =>
        next() < zeroBias ? 0 : Math.floor(next() * 256),
      );
      const ops: Op[] = Array.from({ length: 1 + Math.floor(next() * 30) }, () => {
        const r = next();
        if (r < 0.2) return { kind: "bit" };
        if (r < 0.5) return { kind: "bits", n: Math.floor(next() * 54) };
        return { kind: "eg", k: Math.floor(next() * 35) };
      });
      const fast = new BitReader(bytes, 0, "payload");
      const slow = new OneBitReader(bytes, "payload");
      for (const op of ops) {
        const read = (r: BitReader | OneBitReader) => () =>
          op.kind === "bit" ? r.bit() : op.kind === "bits" ? r.bits(op.n) : r.eg(op.k);
        const expected = outcome(read(slow));
        expect({ seed, op, got: outcome(read(fast)) }).toEqual({ seed, op, got: expected });
        if (typeof expected === "string") break;
      }
    }
  });

  it("reads back what BitWriter wrote, across byte boundaries and up to 2^53", () => {
    const next = random(42);
    const values: [number, number][] = Array.from({ length: 2000 }, () => {
      const k = Math.floor(next() * 30);
      const magnitude = Math.floor(next() * 52);
      return [Math.floor(next() * 2 ** magnitude), k];
    });
    const out = new BitWriter();
    for (const [value, k] of values) {
      out.eg(value, k);
      out.bits(value % 2 ** 40, 40);
    }
    const input = new BitReader(out.finish(), 0, "payload");
    for (const [value, k] of values) {
      expect(input.eg(k)).toBe(value);
      expect(input.bits(40)).toBe(value % 2 ** 40);
    }
    input.expectEnd();
  });
});
