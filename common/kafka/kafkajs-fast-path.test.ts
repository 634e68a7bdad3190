import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  crc32c,
  decodeRecord,
  encodeRecord,
  fastBatchClass,
  fastPath,
  groupMessagesPerPartition,
} from "./kafkajs-fast-path.ts";

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
const stockDecodeRecord = stock<typeof decodeRecord>("protocol/recordBatch/record/v0/decoder.js");
/** kafkajs' Decoder, which hands each record's bytes to the record decoder. */
const Decoder = require(require.resolve("kafkajs/src/protocol/decoder.js")) as new (buffer: Buffer) => {
  buffer: Buffer;
  offset: number;
  readVarIntBytes(): Buffer;
};

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

type BatchClass = Parameters<typeof fastBatchClass>[0];
const StockBatch = stock<BatchClass>("consumer/batch.js");
const filterAborted = require(require.resolve("kafkajs/src/consumer/filterAbortedMessages.js")) as Parameters<
  typeof fastBatchClass
>[1];

/** A partition's share of a fetch: offsets rising from `start` (near 2^53 and past it too), some below the fetch. */
const fetched = fc
  .record({
    start: fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 2n ** 53n - 20n, max: 2n ** 53n + 20n })),
    below: fc.nat({ max: 5 }),
    marks: fc.array(fc.record({ control: fc.boolean(), inTransaction: fc.boolean(), abortMarker: fc.boolean() }), {
      maxLength: 30,
    }),
    aborted: fc.array(fc.nat({ max: 30 }), { maxLength: 2 }),
    highAbove: fc.nat({ max: 100 }),
  })
  .map(({ start, below, marks, aborted, highAbove }) => {
    const messages = marks.map((m, i) => ({
      offset: (start + BigInt(i)).toString(),
      key: m.abortMarker ? Buffer.from([0, 0, 0, 0]) : null,
      isControlRecord: m.control,
      batchContext: { producerId: "7", inTransaction: m.inTransaction },
    }));
    const fetchedOffset = (start + BigInt(Math.min(below, marks.length))).toString();
    const abortedTransactions = [...aborted]
      .sort((a, b) => a - b)
      .map((at) => ({ producerId: "7", firstOffset: (start + BigInt(at)).toString() }));
    const highWatermark = (start + BigInt(marks.length + highAbove)).toString();
    return { fetchedOffset, partitionData: { partition: 3, highWatermark, abortedTransactions, messages } };
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

  it("reads records back as kafkajs' own record decoder does (offsets, timestamps, key, value, headers)", () => {
    expect(require(require.resolve("kafkajs/src/protocol/recordBatch/record/v0/decoder.js"))).toBe(decodeRecord);
    // The batch's 64-bit first offset and timestamp, as kafkajs' batch decoder passes them: decimal strings, some
    // past 2^53 (where only exact 64-bit arithmetic gives kafkajs' answer).
    const int64 = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 40n }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    );
    const context = fc.record({
      firstOffset: int64.map(String),
      firstTimestamp: int64.map(String),
      magicByte: fc.constant(2),
      isControlBatch: fc.boolean(),
      timestampType: fc.constantFrom(0, 1),
      maxTimestamp: fc.oneof(fc.constant(undefined), int64.map(String)),
    });
    fc.assert(
      fc.property(record, context, (input, batchContext) => {
        // kafkajs tests `obj[name] === undefined` on a plain object, so a header named like an Object.prototype
        // member ("toString", "__proto__") comes out as [that member, value]; ours keeps the value (test below).
        fc.pre(Object.keys(input.headers).every((name) => !(name in Object.prototype)));
        // What the batch decoder does: the record's length-prefixed bytes, then a Decoder over just them.
        const bytes = new Decoder(encodeRecord(input).buffer).readVarIntBytes();
        const ours = decodeRecord(new Decoder(bytes), batchContext);
        const theirs = stockDecodeRecord(new Decoder(bytes), batchContext);
        expect(ours).toEqual(theirs);
        expect(Object.keys(ours.headers)).toEqual(Object.keys(theirs.headers));
      }),
      { numRuns: 3_000 },
    );
  });

  it("reads a header that comes several times as kafkajs does, and one named __proto__ as a header", () => {
    const many = { a: [Buffer.from("1"), Buffer.from("2"), Buffer.from("3")], b: Buffer.from("x") };
    const input = { offsetDelta: 3, timestampDelta: -5, key: null, value: "v", headers: many };
    const context = { firstOffset: "9007199254740990", firstTimestamp: "1764489600000", magicByte: 2 };
    const bytes = new Decoder(encodeRecord(input).buffer).readVarIntBytes();
    const ours = decodeRecord(new Decoder(bytes), context);
    expect(ours).toEqual(stockDecodeRecord(new Decoder(bytes), context));
    expect(ours.offset).toBe("9007199254740993");
    expect(ours.timestamp).toBe("1764489599995");
    // kafkajs reads obj["__proto__"] of its {} as Object.prototype and makes an array of it; ours is the value.
    const proto = { offsetDelta: 0, value: "v", headers: { ["__proto__"]: Buffer.from("p") } };
    const protoBytes = new Decoder(encodeRecord(proto).buffer).readVarIntBytes();
    const headers = decodeRecord(new Decoder(protoBytes), context).headers;
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(headers, "__proto__")?.value).toEqual(Buffer.from("p"));
  });

  it("builds the consumer's Batch as kafkajs does (offset filter, aborted and control records left out, lags)", () => {
    const FastBatch = fastBatchClass(StockBatch, filterAborted);
    expect(require(require.resolve("kafkajs/src/consumer/batch.js"))).not.toBe(StockBatch);
    fc.assert(
      fc.property(fetched, ({ fetchedOffset, partitionData }) => {
        const ours = new FastBatch("t", fetchedOffset, partitionData) as InstanceType<typeof StockBatch>;
        const theirs = new StockBatch("t", fetchedOffset, partitionData) as InstanceType<typeof StockBatch>;
        expect(ours).toBeInstanceOf(StockBatch);
        expect({ ...ours }).toEqual({ ...theirs });
        const batch = ours as unknown as Record<string, () => unknown>;
        const stockBatch = theirs as unknown as Record<string, () => unknown>;
        for (const method of [
          "isEmpty",
          "isEmptyDueToFiltering",
          "firstOffset",
          "lastOffset",
          "offsetLag",
          "offsetLagLow",
        ]) {
          expect(batch[method]!()).toEqual(stockBatch[method]!());
        }
        expect(batch.messages).not.toBe(partitionData.messages);
      }),
      { numRuns: 2_000 },
    );
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
