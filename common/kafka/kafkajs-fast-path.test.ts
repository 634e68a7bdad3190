import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c, encodeRecord, fastPath, groupMessagesPerPartition } from "./kafkajs-fast-path.ts";

const require = createRequire(import.meta.url);

/** kafkajs' own module as shipped: our entry leaves the cache for the moment it takes to load theirs. */
function stock<T>(file: string): T {
  const path = require.resolve(`kafkajs/src/${file}`);
  const ours = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as T;
  } finally {
    if (ours) require.cache[path] = ours;
    else delete require.cache[path];
  }
}

type RecordFn = (input: Parameters<typeof encodeRecord>[0]) => { buffer: Buffer };
const stockRecord = stock<RecordFn>("protocol/recordBatch/record/v0/index.js");
const stockGrouping = stock<typeof groupMessagesPerPartition>("producer/groupMessagesPerPartition.js");
const stockCrc = stock<(bytes: Buffer) => number>("protocol/recordBatch/crc32C/index.js");

const bytesOrText = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.uint8Array({ maxLength: 600 }));
const field = fc.option(bytesOrText.map((v) => (typeof v === "string" ? v : Buffer.from(v))));
const headerValue = bytesOrText.map((v) => (typeof v === "string" ? v : Buffer.from(v)));
const record = fc.record({
  offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  // Deltas past 32 bits take the varlong's 64-bit path (a batch spanning weeks, or a clock step back).
  timestampDelta: fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 52), max: 2 ** 52 })),
  key: field,
  value: field,
  headers: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 3 })),
    { maxKeys: 6 },
  ),
});

describe("kafkajs fast path", () => {
  it("is installed in this process", () => {
    expect(fastPath).toEqual({ active: true });
    expect(require(require.resolve("kafkajs/src/protocol/recordBatch/record/v0/index.js"))).toBe(encodeRecord);
  });

  it("writes the same bytes as kafkajs' own record encoder", () => {
    fc.assert(
      fc.property(record, (input) => {
        expect(encodeRecord(input).buffer.equals(stockRecord(input).buffer)).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });

  it("writes our bridge's records (string key, Buffer value, five Buffer headers) as kafkajs does", () => {
    const headers = {
      "fleet-schema": Buffer.from("fleet.telemetry"),
      "fleet-schema-version": Buffer.from("1"),
      "content-type": Buffer.from("application/json"),
      "fleet-mqtt-topic": Buffer.from("fleetsync/v1/truck-7/telemetry"),
      "fleet-received-at": Buffer.from("2026-11-21T08:00:00.000Z"),
    };
    const input = { offsetDelta: 17, timestampDelta: 0, key: "truck-7", value: Buffer.from('{"seq":1}'), headers };
    expect(encodeRecord(input).buffer.toString("hex")).toBe(stockRecord(input).buffer.toString("hex"));
  });

  it("groups messages per partition as kafkajs does, keeping each partition's order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string(), partition: fc.nat({ max: 11 }) }), { maxLength: 300 }),
        fc.nat({ max: 12 }),
        (messages, partitions) => {
          const args = {
            topic: "t",
            partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({ partitionId })),
            messages,
            partitioner: ({ message }: { message: { partition: number } }) => message.partition,
          };
          expect(groupMessagesPerPartition(args)).toEqual(stockGrouping(args));
        },
      ),
    );
  });

  it("computes CRC-32C as kafkajs does, and as the standard's check value says", () => {
    // RFC 3720 (iSCSI) B.4 / the CRC catalogue: CRC-32C of "123456789" is 0xE3069283.
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(stockCrc(Buffer.alloc(0)));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
        expect(crc32c(bytes)).toBe(stockCrc(Buffer.from(bytes)));
      }),
      { numRuns: 2_000 },
    );
  });
});
