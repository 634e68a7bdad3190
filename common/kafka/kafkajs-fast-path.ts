/**
 * Six of kafkajs' per-record internals, replaced by our own code before kafkajs loads them.
 *
 * Why: kafkajs 2.2.4 (its last release; the project is unmaintained) spends most of the bridge's CPU on the way a
 * record is written. Every record gets a fresh zero-filled 512-byte buffer, so does each of its headers (ours has
 * five), and each varint becomes a JS array and then a Buffer. Measured with our records (5 headers, ~330-byte
 * value): `npm run bench:kafkajs` prints stock vs this module side by side. And its per-partition grouping copies
 * the partition's array for every message (quadratic in the records per partition of a batch), and its checksum
 * walks a batch one byte at a time.
 *
 * What is replaced (CommonJS modules that kafkajs `require`s by path; Node caches a module by its file
 * name, so a module placed in `require.cache` first is the one kafkajs gets):
 *  - `src/protocol/recordBatch/record/v0`: one record of Kafka's v2 record format (KIP-98, "Record" in
 *    https://kafka.apache.org/documentation/#recordbatch), written in one pass into a buffer of the exact size.
 *    The bytes are the same as kafkajs' own: kafkajs-fast-path.test.ts compares them on random records.
 *  - `src/protocol/recordBatch/record/v0/decoder`: the same record read back (the pipelines' consumers). kafkajs
 *    reads every varlong as a chain of Long objects, computes each offset and timestamp through two more, and
 *    rebuilds the headers object once per header (spread): about 1.3 KB of garbage per record, the largest share
 *    of a consuming pipeline's allocation and more CPU than the record's JSON.parse (`npm run bench:map`'s
 *    catch-up under `node --cpu-prof` and the sampling heap profiler). Ours reads numbers as numbers (BigInt only
 *    past 2^53) and builds the headers once; the test compares its result with kafkajs' own on random records.
 *  - `src/protocol/recordBatch/v0/decoder`: a fetched record batch (record-batch.ts). kafkajs decodes a whole fetch
 *    before the first batch is handled; ours reads each record's offset and where its parts are, and its key, value
 *    and headers only when asked, so a fetch's ~34,000 records are ~34,000 small objects instead of ten allocations
 *    each that V8 promoted before they were handled. The test compares it with kafkajs' own on random batches.
 *  - `src/consumer/batch`: the consumer's Batch (one partition's share of a fetch). Its constructor turned each
 *    message's offset into a BigInt and a Long object to compare it with the fetched offset (what a compressed
 *    batch holds below it is left out): about 3% of the map's CPU per record in `npm run bench:map`'s catch-up. Ours
 *    compares them as numbers while they are exact (BigInt past 2^53) and keeps the rest of kafkajs' Batch (its
 *    prototype, the same filters, new arrays as kafkajs makes); the test compares the two on random batches.
 *  - `src/producer/groupMessagesPerPartition`: the same grouping in one linear pass.
 *  - `src/protocol/recordBatch/crc32C`: the batch checksum, eight bytes per step instead of one.
 *
 * Safety: kafkajs is pinned to exactly KAFKAJS_VERSION in package.json. If the installed version differs, nothing
 * is replaced. A module kafkajs loaded already (kafkajs was imported before this module: the grouping loads with
 * kafkajs, the record encoder and the checksum on the first produce, the record decoder on the first fetch) stays
 * as shipped. Either way `fastPath.active` is false with
 * the reason, kafkajs runs as shipped there, only slower, and the sink logs it.
 */
import { createRequire, Module } from "node:module";
import {
  addToBase,
  type BatchContext,
  type BatchDecoderDeps,
  FetchedRecord,
  readHeaders,
  RecordReader,
  recordBatchDecoder,
} from "./record-batch.ts";

const KAFKAJS_VERSION = "2.2.4";

export interface FastPathState {
  active: boolean;
  /** Why not, when not active. */
  reason?: string;
}

/** kafkajs' record encoder returns an Encoder; its callers only read `buf` (to check it is one) and `buffer`. */
class EncodedRecord {
  constructor(readonly buf: Buffer) {}
  get buffer(): Buffer {
    return this.buf;
  }
}

type HeaderValue = Buffer | string | null | undefined;

interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}

const zigzag32 = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;
const zigzag64 = (n: bigint) => BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
/** Small numbers take the 32-bit path; others (a varlong timestamp delta of weeks) the 64-bit one. */
const fitsInt32 = (n: number) => n === (n | 0);

function sizeOfUVarInt(u: number): number {
  let bytes = 1;
  while (u > 0x7f) {
    bytes += 1;
    u >>>= 7;
  }
  return bytes;
}

function sizeOfUVarLong(u: bigint): number {
  let bytes = 1;
  while (u > 0x7fn) {
    bytes += 1;
    u >>= 7n;
  }
  return bytes;
}

function writeUVarInt(buf: Buffer, at: number, u: number): number {
  while (u > 0x7f) {
    buf[at++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[at++] = u;
  return at;
}

function writeUVarLong(buf: Buffer, at: number, u: bigint): number {
  while (u > 0x7fn) {
    buf[at++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[at++] = Number(u);
  return at;
}

/**
 * A field as kafkajs writes it: Buffers as they are, anything else as the UTF-8 of String(value); null stays null.
 * Strings are written straight into the record's buffer (no Buffer of their own).
 */
type Field = Buffer | string | null;

function fieldOf(value: unknown): Field {
  if (value == null) return null;
  return Buffer.isBuffer(value) ? value : String(value);
}

const byteLengthOf = (field: Buffer | string) =>
  typeof field === "string" ? Buffer.byteLength(field, "utf8") : field.length;

/** varint length (-1 for null, as KIP-98 says) followed by the bytes. */
function sizeOfField(field: Field): number {
  if (field === null) return 1;
  const length = byteLengthOf(field);
  return sizeOfUVarInt(zigzag32(length)) + length;
}

function writeField(buf: Buffer, at: number, field: Field): number {
  if (field === null) return writeUVarInt(buf, at, zigzag32(-1));
  const length = byteLengthOf(field);
  at = writeUVarInt(buf, at, zigzag32(length));
  if (typeof field === "string") buf.write(field, at, length, "utf8");
  else field.copy(buf, at);
  return at + length;
}

/** Record (v2 record format): length, attributes, timestampDelta, offsetDelta, key, value, headers. */
export function encodeRecord({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordInput) {
  const keyBytes = fieldOf(key);
  const valueBytes = fieldOf(value);
  // Header keys and values in kafkajs' order: object order, an array value giving one header per element.
  const headerBytes: Field[] = [];
  for (const name in headers) {
    const header = headers[name];
    for (const one of Array.isArray(header) ? header : [header]) headerBytes.push(name, fieldOf(one));
  }
  const timestamp = fitsInt32(timestampDelta) ? zigzag32(timestampDelta) : zigzag64(BigInt(timestampDelta));
  const offset = zigzag32(offsetDelta);
  let body =
    1 + // attributes
    (typeof timestamp === "number" ? sizeOfUVarInt(timestamp) : sizeOfUVarLong(timestamp)) +
    sizeOfUVarInt(offset) +
    sizeOfField(keyBytes) +
    sizeOfField(valueBytes) +
    sizeOfUVarInt(zigzag32(headerBytes.length / 2));
  for (const bytes of headerBytes) body += sizeOfField(bytes);
  const length = zigzag32(body);
  // allocUnsafe: small sizes come from Node's shared pool, and every byte is written below.
  const buf = Buffer.allocUnsafe(sizeOfUVarInt(length) + body);
  let at = writeUVarInt(buf, 0, length);
  buf[at++] = 0; // attributes: none are used in a record (KIP-98)
  at = typeof timestamp === "number" ? writeUVarInt(buf, at, timestamp) : writeUVarLong(buf, at, timestamp);
  at = writeUVarInt(buf, at, offset);
  at = writeField(buf, at, keyBytes);
  at = writeField(buf, at, valueBytes);
  at = writeUVarInt(buf, at, zigzag32(headerBytes.length / 2));
  for (const bytes of headerBytes) at = writeField(buf, at, bytes);
  return new EncodedRecord(buf);
}

/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), the checksum of a record batch (KIP-98). Slicing-by-8
 * (Kounavis and Berry, Intel 2005): eight table lookups per 8 bytes instead of one per byte, as kafkajs does.
 */
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  // Table k: the CRC of byte n followed by k zero bytes.
  for (let n = 0; n < 256; n += 1) {
    let c = t[n]!;
    for (let k = 1; k < 8; k += 1) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  const t = CRC_TABLES;
  let crc = -1;
  let i = 0;
  for (const whole = bytes.length - (bytes.length % 8); i < whole; i += 8) {
    const lo = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    const hi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    crc =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!;
  }
  for (; i < bytes.length; i += 1) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** kafkajs' TimestampTypes.LOG_APPEND_TIME: the broker's time stands for every record of the batch. */
const LOG_APPEND_TIME = 1;

/** The part of kafkajs' Decoder a record decoder reads: the bytes of one record, from `offset`. */
interface RecordBytes {
  buffer: Buffer;
  offset: number;
}

/**
 * One record of a fetched batch, in kafkajs' shape (the consumer's `message`): offset and timestamp as decimal
 * strings, key and value as Buffers over the fetched bytes (null when absent), headers by name (a name that
 * comes more than once gets an array, in order).
 */
export function decodeRecord(decoder: RecordBytes, batchContext: BatchContext = {}) {
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  const reader = new RecordReader(decoder.buffer, decoder.offset);
  const attributes = decoder.buffer.readInt8(reader.at++);
  const timestampDelta = reader.varLong();
  const timestamp =
    timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : addToBase(firstTimestamp, timestampDelta);
  const offset = addToBase(firstOffset, reader.varInt());
  const key = reader.bytes();
  const value = reader.bytes();
  const headers = readHeaders(reader);
  decoder.offset = reader.at;
  return {
    magicByte,
    attributes,
    timestamp,
    offset,
    key,
    value,
    headers,
    isControlRecord: isControlBatch,
    batchContext,
  };
}

/** An offset (kafkajs' decimal string) at or above `from`: numbers while exact, BigInt past 2^53. */
function offsetAtLeast(offset: string, from: string, fromNumber: number): boolean {
  const n = Number(offset);
  if (Number.isSafeInteger(n) && Number.isSafeInteger(fromNumber)) return n >= fromNumber;
  return BigInt(offset) >= BigInt(from);
}

interface FetchedMessage {
  offset: string;
  isControlRecord?: boolean;
}

interface PartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions?: unknown[];
  messages: FetchedMessage[];
}

type FilterAborted = (input: { messages: FetchedMessage[]; abortedTransactions?: unknown[] }) => FetchedMessage[];
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => object;

/**
 * kafkajs' consumer Batch with its constructor's fields computed without a Long per message; every method is
 * kafkajs' own (the stock prototype), so `instanceof` and the offset/lag arithmetic stay theirs.
 */
export function fastBatchClass(stock: BatchClass, filterAbortedMessages: FilterAborted): BatchClass {
  function Batch(
    this: Record<string, unknown>,
    topic: string,
    fetchedOffset: string,
    { abortedTransactions, messages, partition, highWatermark }: PartitionData,
  ) {
    this.fetchedOffset = fetchedOffset;
    this.topic = topic;
    this.partition = partition;
    this.highWatermark = highWatermark;
    this.rawMessages = messages;
    // kafkajs: fetch can return messages below the requested offset (a compressed batch); they are left out.
    const from = String(fetchedOffset);
    const fromNumber = Number(from);
    // Our fetched records compare their offset as a number while it is exact, without making its string.
    const withinOffset = messages.filter((m) =>
      m instanceof FetchedRecord && Number.isSafeInteger(fromNumber) && !Number.isNaN(m.offsetNumber)
        ? m.offsetNumber >= fromNumber
        : offsetAtLeast(m.offset, from, fromNumber),
    );
    this.messagesWithinOffset = withinOffset;
    // Aborted transactions' messages and control records are not exposed (kafkajs' two filters, in its order).
    this.messages = filterAbortedMessages({ messages: withinOffset, abortedTransactions }).filter(
      (m) => !m.isControlRecord,
    );
  }
  Batch.prototype = stock.prototype;
  return Batch as unknown as BatchClass;
}

interface GroupInput<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner(args: { topic: string; partitionMetadata: unknown[]; message: M }): number;
}

/** Messages by partition, each partition's in their original order (what kafkajs' own grouping returns). */
export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupInput<M>) {
  const groups: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (groups[partition] ??= []).push(message);
  }
  return groups;
}

type PartialError = BatchDecoderDeps["PartialMessageError"];

/** What install() put in kafkajs' place that is made at install (the tests compare it with kafkajs' own). */
export const installed: { decodeRecordBatch?: ReturnType<typeof recordBatchDecoder> } = {};

function install(): FastPathState {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    const manifest = require.resolve("kafkajs/package.json");
    const version = (require(manifest) as { version: string }).version;
    if (version !== KAFKAJS_VERSION) {
      return { active: false, reason: `kafkajs ${version} installed; the fast path is written for ${KAFKAJS_VERSION}` };
    }
    root = manifest.slice(0, -"package.json".length);
  } catch (error) {
    return { active: false, reason: `kafkajs not found: ${(error as Error).message}` };
  }
  const cache = require.cache;
  const late: string[] = [];
  const batchFile = `${root}src/consumer/batch.js`;
  let batch: BatchClass | undefined;
  if (cache[batchFile]) late.push("src/consumer/batch.js");
  else {
    // kafkajs' own Batch (for its prototype), then out of the cache so that kafkajs gets ours.
    const stock = require(batchFile) as BatchClass;
    delete cache[batchFile];
    batch = fastBatchClass(stock, require(`${root}src/consumer/filterAbortedMessages.js`) as FilterAborted);
  }
  const replacements: [string, unknown][] = [
    [`${root}src/protocol/recordBatch/record/v0/index.js`, encodeRecord],
    [`${root}src/producer/groupMessagesPerPartition.js`, groupMessagesPerPartition],
    [`${root}src/protocol/recordBatch/crc32C/index.js`, crc32c],
    [`${root}src/protocol/recordBatch/record/v0/decoder.js`, decodeRecord],
  ];
  const batchDecoderFile = `${root}src/protocol/recordBatch/v0/decoder.js`;
  if (!cache[batchDecoderFile]) {
    const deps: BatchDecoderDeps = {
      lookupCodecByAttributes: (
        require(`${root}src/protocol/message/compression/index.js`) as Pick<BatchDecoderDeps, "lookupCodecByAttributes">
      ).lookupCodecByAttributes,
      PartialMessageError: (require(`${root}src/errors.js`) as { KafkaJSPartialMessageError: PartialError })
        .KafkaJSPartialMessageError,
    };
    installed.decodeRecordBatch = recordBatchDecoder(deps);
  }
  replacements.push([batchDecoderFile, installed.decodeRecordBatch]);
  if (batch) replacements.push([batchFile, batch]);
  for (const [file, fn] of replacements) {
    const current = cache[file];
    if (current) {
      if (current.exports !== fn) late.push(file.slice(root.length));
      continue;
    }
    const module = new Module(file);
    module.filename = file;
    module.loaded = true;
    module.exports = fn;
    cache[file] = module;
  }
  return late.length === 0
    ? { active: true }
    : { active: false, reason: `kafkajs loaded ${late.join(" and ")} before the fast path was installed` };
}

/** Installed once, when this module is first imported (import it before kafkajs). */
export const fastPath: FastPathState = install();
