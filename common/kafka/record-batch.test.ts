import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastBatchClass, installed } from "./kafkajs-fast-path.ts";
import { FetchedRecord, messageHeaderText, messageText, messageTimestampMs } from "./record-batch.ts";

const require = createRequire(import.meta.url);
const resolve = (file: string) => require.resolve(`kafkajs/src/${file}`);

/**
 * kafkajs' module as shipped, loaded with the modules in `stockToo` (ours in the cache) as shipped as well, so that
 * kafkajs' batch decoder uses kafkajs' own record decoder. Our entries are back in the cache afterwards.
 */
function stock<T>(file: string, stockToo: string[] = []): T {
  const paths = [file, ...stockToo].map(resolve);
  const ours = paths.map((path) => require.cache[path]);
  for (const path of paths) delete require.cache[path];
  try {
    return require(paths[0]!) as T;
  } finally {
    paths.forEach((path, i) => {
      if (ours[i]) require.cache[path] = ours[i];
      else delete require.cache[path];
    });
  }
}

interface Decoded {
  records: Record<string, unknown>[];
  [field: string]: unknown;
}
type BatchDecoder = (decoder: unknown) => Promise<Decoded>;
const stockBatchDecoder = stock<BatchDecoder>("protocol/recordBatch/v0/decoder.js", [
  "protocol/recordBatch/record/v0/decoder.js",
]);
const ourBatchDecoder = installed.decodeRecordBatch as unknown as BatchDecoder;
type Encoder = { buffer: Buffer };
const { RecordBatch } = require(resolve("protocol/recordBatch/v0/index.js")) as {
  RecordBatch: (batch: object) => Promise<Encoder>;
};
const Record = require(resolve("protocol/recordBatch/record/v0/index.js")) as (record: object) => Encoder;
const Decoder = require(resolve("protocol/decoder.js")) as new (buffer: Buffer) => {
  offset: number;
  canReadBytes(n: number): boolean;
};
const { KafkaJSPartialMessageError } = require(resolve("errors.js")) as { KafkaJSPartialMessageError: typeof Error };
type BatchClass = Parameters<typeof fastBatchClass>[0];
const StockBatch = stock<BatchClass>("consumer/batch.js");
const filterAborted = require(resolve("consumer/filterAbortedMessages.js")) as Parameters<typeof fastBatchClass>[1];

const bytesOrText = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.uint8Array({ maxLength: 400 }));
const bytes: fc.Arbitrary<Buffer> = bytesOrText.map((v) => Buffer.from(v));
/** Header names: ours, repeated ones, non-ASCII ones, and names that differ from ours in one byte. */
const headerName = fc.oneof(
  fc.constantFrom("fleet-received-at", "fleet-received-au", "content-type", "é", "\u{1F69A}"),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const headerValue = fc.option(bytes, { freq: 4 });
const record = fc.record({
  key: fc.option(bytes),
  value: fc.option(bytes),
  // Several values under one name: kafkajs gives an array; a null value: null.
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
  timestampDelta: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
});
const int64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 40n }),
  fc.bigInt({ min: 2n ** 53n - 50n, max: 2n ** 53n + 50n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const batch = fc.record({
  records: fc.array(record, { maxLength: 25 }),
  firstOffset: fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), int64),
  firstTimestamp: fc.oneof(fc.constant(1_764_489_600_000n), int64),
  maxTimestamp: int64,
  producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2n ** 62n })),
  transactional: fc.boolean(),
  // The attribute bits kafkajs' encoder never sets: a control batch (0x20) and the broker's time (0x8).
  control: fc.boolean(),
  logAppendTime: fc.boolean(),
  gzip: fc.boolean(),
});

/** Headers as the encoder takes them: an object, a repeated name as an array (in order). */
function headersOf(list: [string, Buffer | null][]) {
  const headers: Record<string, (Buffer | null)[]> = {};
  for (const [name, value] of list) (headers[name] ??= []).push(value);
  return headers;
}

type BatchInput = typeof batch extends fc.Arbitrary<infer B> ? B : never;

async function encodeBatch(b: BatchInput) {
  const encoder = await RecordBatch({
    compression: b.gzip ? 1 : 0,
    firstOffset: b.firstOffset.toString(),
    firstTimestamp: b.firstTimestamp.toString(),
    maxTimestamp: b.maxTimestamp.toString(),
    producerId: b.producerId.toString(),
    transactional: b.transactional,
    lastOffsetDelta: Math.max(0, b.records.length - 1),
    records: b.records.map((r, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: r.timestampDelta,
        key: r.key,
        value: r.value,
        headers: headersOf(r.headers),
      }),
    ),
  });
  const out = Buffer.from(encoder.buffer);
  // Attributes: int16 after FirstOffset, Length, PartitionLeaderEpoch, Magic and CRC (12 + 4 + 1 + 4 bytes).
  const attributes = out.readInt16BE(21) | (b.control ? 0x20 : 0) | (b.logAppendTime ? 0x8 : 0);
  out.writeInt16BE(attributes, 21);
  return out;
}

/** What kafkajs' fetch decoder (decodeMessages) does with a fetch's bytes: batch after batch, stop at a partial one. */
async function decodeAll(decode: BatchDecoder, fetched: Buffer) {
  const decoder = new Decoder(fetched);
  const batches: Decoded[] = [];
  while (decoder.canReadBytes(49)) {
    try {
      batches.push(await decode(decoder));
    } catch (error) {
      if (error instanceof KafkaJSPartialMessageError && error.name === "KafkaJSPartialMessageError") break;
      throw error;
    }
  }
  return batches;
}

const FIELDS = ["offset", "timestamp", "key", "value", "attributes", "magicByte", "isControlRecord", "batchContext"];

/** A record as kafkajs' plain object has it (our getters read). */
function plain(message: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const field of [...FIELDS, "headers"]) out[field] = message[field];
  return out;
}

describe("fetched record batches", () => {
  it("is kafkajs' batch decoder in this process", () => {
    expect(require(resolve("protocol/recordBatch/v0/decoder.js"))).toBe(installed.decodeRecordBatch);
    expect(stockBatchDecoder).not.toBe(installed.decodeRecordBatch);
  });

  it("decodes batches as kafkajs does (offsets past 2^53, gzip, control, transactional, broker time, a cut tail)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 4 }), fc.nat(), async (batches, cut) => {
        // Header names like Object.prototype's members: kafkajs' plain-object test mis-merges them (see the
        // record decoder's test); ours keeps the value.
        fc.pre(batches.every((b) => b.records.every((r) => r.headers.every(([n]) => !(n in Object.prototype)))));
        const whole = Buffer.concat(await Promise.all(batches.map(encodeBatch)));
        // A fetch can end inside its last batch (maxBytes): both stop before it.
        for (const fetched of [whole, whole.subarray(0, whole.length - (cut % Math.min(60, whole.length)))]) {
          const ours = await decodeAll(ourBatchDecoder, fetched);
          const theirs = await decodeAll(stockBatchDecoder, fetched);
          expect(ours.length).toBe(theirs.length);
          ours.forEach((b, i) => {
            const { records, ...fields } = b;
            const { records: stockRecords, ...stockFields } = theirs[i]!;
            expect(fields).toEqual(stockFields);
            expect(records.map(plain)).toEqual(stockRecords.map(plain));
            records.forEach((r, j) => {
              const s = stockRecords[j]! as {
                value: Buffer | null;
                timestamp: string;
                headers: Record<string, unknown>;
              };
              expect(Object.keys(r.headers as object)).toEqual(Object.keys(s.headers));
              // The runner's readers, against what it read before from kafkajs' message.
              const message = r as unknown as FetchedRecord;
              expect(message).toBeInstanceOf(FetchedRecord);
              expect(messageText(message)).toBe(s.value === null ? null : s.value.toString("utf8"));
              expect(messageTimestampMs(message)).toBe(Number(s.timestamp));
              for (const name of ["fleet-received-at", "é", ...Object.keys(s.headers)]) {
                const value = s.headers[name];
                expect(messageHeaderText(message, name)).toBe(value == null ? undefined : String(value));
              }
              // Read twice, the same object (a getter that made a new Buffer each time would surprise a caller).
              expect(message.value).toBe(message.value);
              expect(message.headers).toBe(message.headers);
            });
          });
        }
      }),
      { numRuns: 250 },
    );
  });

  it("gives the consumer's Batch the same messages as kafkajs (aborted transactions, control records)", async () => {
    // A transactional producer's batches, one of them aborted (its control batch's key marks the abort), and a
    // committed one: kafkajs leaves out the aborted records and every control record.
    const data = {
      records: [],
      firstTimestamp: 1_764_489_600_000n,
      maxTimestamp: 0n,
      logAppendTime: false,
      gzip: false,
    };
    const make = (firstOffset: bigint, n: number, control: boolean, key?: Buffer) =>
      encodeBatch({
        ...data,
        firstOffset,
        producerId: 7n,
        transactional: true,
        control,
        records: Array.from({ length: n }, (_, i) => ({
          key: key ?? Buffer.from(`k${i}`),
          value: Buffer.from(`{"n":${i}}`),
          headers: [],
          timestampDelta: i,
        })),
      });
    const abortKey = Buffer.from([0, 0, 0, 0]);
    const start = 2n ** 53n - 3n;
    const fetched = Buffer.concat([
      await make(start, 3, false),
      await make(start + 3n, 1, true, abortKey),
      await make(start + 4n, 2, false),
      await make(start + 6n, 1, true, Buffer.from([0, 0, 0, 1])),
    ]);
    const partition = (batches: Decoded[]) => ({
      partition: 0,
      highWatermark: (start + 7n).toString(),
      abortedTransactions: [{ producerId: "7", firstOffset: start.toString() }],
      messages: batches.flatMap((b) => b.records) as unknown as { offset: string }[],
    });
    const FastBatch = fastBatchClass(StockBatch, filterAborted);
    for (const fetchedOffset of [start, start + 1n, start + 4n]) {
      const ours = new FastBatch("t", fetchedOffset.toString(), partition(await decodeAll(ourBatchDecoder, fetched)));
      const theirs = new StockBatch(
        "t",
        fetchedOffset.toString(),
        partition(await decodeAll(stockBatchDecoder, fetched)),
      );
      const offsets = (b: object) => (b as { messages: { offset: string }[] }).messages.map((m) => m.offset);
      expect(offsets(ours)).toEqual(offsets(theirs));
      // From before the abort marker: the aborted three and both control records left out. (From after it, kafkajs
      // never learns the transaction ended and leaves out the next one too: its behaviour, kept.)
      if (fetchedOffset < start + 3n) {
        expect(offsets(ours)).toEqual([(start + 4n).toString(), (start + 5n).toString()]);
      }
    }
  });
});
