/**
 * Reading fetched records: kafkajs' record batch decoder (`src/protocol/recordBatch/v0/decoder`) replaced by one that
 * reads each record's header fields at once and its key, value and headers only when asked (installed by
 * kafkajs-fast-path.ts, which says when and how it refuses).
 *
 * Why: kafkajs decodes a whole fetch (up to 10 MiB, ~34,000 of our telemetry records) before the consumer's first
 * batch is handled, and for each record it made a Buffer over its bytes, a Decoder, then a Buffer for the key, the
 * value and every header's value, a string for every header's name and a headers object. All of that lived until
 * the fetch's last batch was handled, long enough for V8 to promote it out of its young generation: the map's
 * garbage collection in `npm run bench:map`'s catch-up (about 1/6 of its CPU), and most of the per-record decoding
 * before it. A record here is one object holding where its parts are in the fetched bytes; `key`, `value` and
 * `headers` are made when first read (and then kept, so reading twice gives the same object), and the pipelines'
 * runner reads the value's text and the one header it needs straight from the bytes (`valueText`, `headerText`).
 *
 * What stays kafkajs': the record format (KIP-98, "RecordBatch" in https://kafka.apache.org/documentation/#recordbatch),
 * the fields and their meaning (offsets and timestamps as decimal strings, exact past 2^53), the batch fields it
 * returns, its compression codecs (looked up through kafkajs' own table, so a codec a user registered is used) and its
 * partial-batch error (a fetch may end inside a batch; kafkajs' fetch decoder stops there). record-batch.test.ts
 * compares the result with kafkajs' own decoder on random batches, compressed ones, control and transactional batches.
 */
import { FleetError } from "../errors.ts";

/** The part of kafkajs' Decoder a batch decoder reads: the fetched bytes and where the batch starts. */
export interface FetchBytes {
  buffer: Buffer;
  offset: number;
}

/** What kafkajs passes to each record: the batch header's fields (offsets as strings). */
export interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

export type HeaderValues = Record<string, Buffer | null | (Buffer | null)[]>;

/** kafkajs' TimestampTypes.LOG_APPEND_TIME: the broker's time stands for every record of the batch. */
const LOG_APPEND_TIME = 1;
const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
/** FirstOffset (int64) and Length (int32): the bytes before a batch's length counts. */
const BATCH_PREFIX = 12;
/** From PartitionLeaderEpoch to the record count (int32), the batch header's fixed part. */
const RECORDS_AT = 45;

/** A reader over record bytes. Varints as kafkajs reads them (Kafka's zigzag varint, KIP-98). */
export class RecordReader {
  constructor(
    readonly buf: Buffer,
    public at: number,
  ) {}

  /** A 32-bit zigzag varint, with kafkajs' arithmetic (so even a malformed one decodes to the same number). */
  varInt(): number {
    let byte: number;
    let result = 0;
    let shift = 0;
    do {
      byte = this.buf[this.at++]!;
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }

  /** A 64-bit zigzag varint: a number while it is exact (below 2^53), else a BigInt. */
  varLong(): number | bigint {
    let byte: number;
    let unsigned = 0;
    let scale = 1;
    let bytes = 0;
    do {
      byte = this.buf[this.at++]!;
      unsigned += (byte & 0x7f) * scale;
      scale *= 128;
      bytes += 1;
    } while (byte >= 0x80 && bytes < 7);
    if (byte < 0x80) return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
    // 49 bits read and more to come: the rest as BigInt (kafkajs' Long is a BigInt that never wraps).
    let big = BigInt(unsigned);
    let shift = 49n;
    do {
      if (shift > 63n) throw new FleetError("FLEET_KAFKA", "a fetched record has a varlong of more than 10 bytes");
      byte = this.buf[this.at++]!;
      big += BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte >= 0x80);
    return (big >> 1n) ^ -(big & 1n);
  }

  /** Skips a length-prefixed field; returns its length (-1: null). */
  skip(): number {
    const length = this.varInt();
    if (length > 0) this.at += length;
    return length;
  }

  bytes(): Buffer | null {
    const length = this.varInt();
    if (length === -1) return null;
    const bytes = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }

  string(): string | null {
    const length = this.varInt();
    if (length === -1) return null;
    const text = this.buf.toString("utf8", this.at, this.at + length);
    this.at += length;
    return text;
  }
}

/** A batch's first offset or timestamp (kafkajs' decimal string) plus a record's delta, exact as kafkajs' Long adds. */
export function addToBase(base: string | undefined, delta: number | bigint): string {
  const start = Number(base);
  if (typeof delta === "number" && Number.isSafeInteger(start)) {
    const sum = start + delta;
    if (Number.isSafeInteger(sum)) return String(sum);
  }
  return (BigInt(base ?? 0) + BigInt(delta)).toString();
}

/** A record's headers (count, then name and value each): by name, a name that comes more than once as an array. */
export function readHeaders(reader: RecordReader): HeaderValues {
  const headers: HeaderValues = {};
  const count = reader.varInt();
  for (let i = 0; i < count; i += 1) {
    const name = String(reader.string());
    const headerValue = reader.bytes();
    const before = Object.hasOwn(headers, name) ? headers[name] : undefined;
    const merged =
      before === undefined ? headerValue : Array.isArray(before) ? [...before, headerValue] : [before, headerValue];
    // A header named "__proto__" is a header (kafkajs' spread makes it an own property), not the prototype.
    if (name === "__proto__") Object.defineProperty(headers, name, { value: merged, enumerable: true, writable: true });
    else headers[name] = merged;
  }
  return headers;
}

/** A header value as text: null (or absent) is none; an array (a name that came several times) as its toString. */
function textOf(value: HeaderValues[string] | undefined): string | undefined {
  return value == null ? undefined : String(value);
}

/**
 * What the records of one batch share, once per batch: the bytes, kafkajs' batch context, and the first offset and
 * timestamps as numbers (a record's would otherwise parse the decimal strings each time).
 */
interface BatchShared {
  buf: Buffer;
  context: BatchContext;
  /** NaN when not exact (past 2^53): a record then goes by the decimal strings. */
  firstOffset: number;
  firstTimestamp: number;
  maxTimestamp: number;
  /** The broker's time stands for every record (LOG_APPEND_TIME with a max timestamp). */
  logAppendTime: boolean;
}

function batchShared(buf: Buffer, context: BatchContext): BatchShared {
  const exact = (decimal: string | undefined) => {
    const n = Number(decimal);
    return Number.isSafeInteger(n) ? n : NaN;
  };
  return {
    buf,
    context,
    firstOffset: exact(context.firstOffset),
    firstTimestamp: exact(context.firstTimestamp),
    maxTimestamp: Number(context.maxTimestamp),
    logAppendTime: context.timestampType === LOG_APPEND_TIME && Boolean(context.maxTimestamp),
  };
}

/** A header name's UTF-8 length, and whether undecodable bytes of any length could decode to it (U+FFFD). */
let lastName: { name: string; byteLength: number; anyLength: boolean } | undefined;

function nameBytes(name: string): { byteLength: number; anyLength: boolean } {
  // The runner asks for the same name for every record: measured once, not per record.
  if (lastName?.name !== name)
    lastName = { name, byteLength: Buffer.byteLength(name), anyLength: name.includes("\ufffd") };
  return lastName;
}

/** The key, value and headers once read (a second read gives the same objects). */
interface ReadParts {
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: HeaderValues;
}

/**
 * One fetched record, in kafkajs' shape (the consumer's `message`: offset, timestamp, key, value, headers,
 * attributes, magicByte, isControlRecord, batchContext), every part read from the fetched bytes when first asked
 * for. Small on purpose: a fetch's records all live until its last batch is handled, so every field is copied by
 * each young-generation collection meanwhile; the batch's shared part is one object, and the offset's decimal string
 * is made when read (the runner reads it once per kept record; the Batch compares `offsetNumber`).
 */
export class FetchedRecord {
  readonly #batch: BatchShared;
  /** Where the record's attributes byte is, and where it ends. */
  readonly #start: number;
  readonly #end: number;
  readonly #offsetDelta: number;
  readonly #timestampDelta: number | bigint;
  readonly #keyAt: number;
  readonly #valueAt: number;
  readonly #headersAt: number;
  #read: ReadParts | undefined;

  constructor(reader: RecordReader, end: number, batch: BatchShared) {
    this.#batch = batch;
    this.#end = end;
    this.#start = reader.at++;
    this.#timestampDelta = reader.varLong();
    this.#offsetDelta = reader.varInt();
    this.#keyAt = reader.at;
    reader.skip();
    this.#valueAt = reader.at;
    reader.skip();
    this.#headersAt = reader.at;
  }

  get batchContext(): BatchContext {
    return this.#batch.context;
  }

  get magicByte(): number | undefined {
    return this.#batch.context.magicByte;
  }

  get isControlRecord(): boolean {
    return this.#batch.context.isControlBatch ?? false;
  }

  get attributes(): number {
    return this.#batch.buf.readInt8(this.#start);
  }

  get offset(): string {
    const n = this.offsetNumber;
    return Number.isNaN(n) ? addToBase(this.#batch.context.firstOffset, this.#offsetDelta) : String(n);
  }

  /** The offset as a number while it is exact (below 2^53), else NaN (then `offset`, the decimal string, is exact). */
  get offsetNumber(): number {
    const sum = this.#batch.firstOffset + this.#offsetDelta;
    return Number.isSafeInteger(sum) ? sum : NaN;
  }

  get timestamp(): string {
    const { timestampType, maxTimestamp, firstTimestamp } = this.#batch.context;
    return timestampType === LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : addToBase(firstTimestamp, this.#timestampDelta);
  }

  /** The timestamp in ms since the epoch as a number (what a consumer does with it), without its string. */
  timestampMs(): number {
    const batch = this.#batch;
    if (batch.logAppendTime) return batch.maxTimestamp;
    const delta = this.#timestampDelta;
    // Numbers only while both parts and the sum are exact; past 2^53, as the decimal string rounds.
    if (typeof delta === "number" && Number.isSafeInteger(batch.firstTimestamp + delta)) {
      return batch.firstTimestamp + delta;
    }
    return Number(this.timestamp);
  }

  get key(): Buffer | null {
    const read = (this.#read ??= {});
    if (read.key === undefined) read.key = this.#field(this.#keyAt);
    return read.key;
  }

  get value(): Buffer | null {
    const read = (this.#read ??= {});
    if (read.value === undefined) read.value = this.#field(this.#valueAt);
    return read.value;
  }

  get headers(): HeaderValues {
    const read = (this.#read ??= {});
    read.headers ??= readHeaders(new RecordReader(this.#batch.buf.subarray(0, this.#end), this.#headersAt));
    return read.headers;
  }

  /** The value as UTF-8 text (null for a null value), read from the fetched bytes without a Buffer of its own. */
  valueText(): string | null {
    const reader = new RecordReader(this.#batch.buf, this.#valueAt);
    const length = reader.varInt();
    if (length === -1) return null;
    return this.#batch.buf.toString("utf8", reader.at, Math.min(reader.at + length, this.#end));
  }

  /**
   * A header's value as text, as `String(headers[name])` gives it, without making the headers object when the name
   * comes once: undefined when the record has no such header or its value is null (a null is no text).
   */
  headerText(name: string): string | undefined {
    const reader = new RecordReader(this.#batch.buf, this.#headersAt);
    const count = reader.varInt();
    let found: string | undefined;
    // Names are compared as kafkajs keys them, decoded as UTF-8; the byte length first rules most out without a
    // string, except for a name with U+FFFD, which undecodable bytes of any length decode to.
    const { byteLength, anyLength } = nameBytes(name);
    for (let i = 0; i < count; i += 1) {
      const nameLength = reader.varInt();
      const matches =
        nameLength === -1
          ? name === "null" // kafkajs names a header whose name is null "null" (String(null))
          : (anyLength || nameLength === byteLength) &&
            this.#batch.buf.toString("utf8", reader.at, reader.at + nameLength) === name;
      if (nameLength > 0) reader.at += nameLength;
      const valueLength = reader.varInt();
      if (matches) {
        // Null, or a second one (kafkajs' array of values): as the headers object gives it.
        if (valueLength === -1 || found !== undefined) return textOf(this.headers[name]);
        found = this.#batch.buf.toString("utf8", reader.at, Math.min(reader.at + valueLength, this.#end));
      }
      if (valueLength > 0) reader.at += valueLength;
    }
    return found;
  }

  /** A length-prefixed field at `at`, never past the record's end (kafkajs read it within the record's own bytes). */
  #field(at: number): Buffer | null {
    const reader = new RecordReader(this.#batch.buf, at);
    const length = reader.varInt();
    if (length === -1) return null;
    return this.#batch.buf.subarray(reader.at, Math.min(reader.at + length, this.#end));
  }
}

interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}

export interface BatchDecoderDeps {
  /** kafkajs' own lookup (src/protocol/message/compression), so its table, with any codec a user added, decides. */
  lookupCodecByAttributes(attributes: number): Codec | null | undefined;
  /** kafkajs' KafkaJSPartialMessageError: its fetch decoder stops at it (a fetch may end inside a batch). */
  PartialMessageError: new (message: string) => Error;
}

/** Reads `count` length-prefixed records from `reader`, each ending where its length says. */
function readRecords(reader: RecordReader, count: number, context: BatchContext): FetchedRecord[] {
  const records = new Array<FetchedRecord>(count);
  const shared = batchShared(reader.buf, context);
  for (let i = 0; i < count; i += 1) {
    if (reader.at >= reader.buf.length) {
      throw new FleetError("FLEET_KAFKA", `a fetched record batch ends after ${i} of its ${count} records`);
    }
    const length = reader.varInt();
    const end = Math.min(reader.at + length, reader.buf.length);
    records[i] = new FetchedRecord(reader, end, shared);
    reader.at = end;
  }
  return records;
}

/** kafkajs' record batch decoder (v0: the v2 message format), same input, same result, records read lazily. */
export function recordBatchDecoder({ lookupCodecByAttributes, PartialMessageError }: BatchDecoderDeps) {
  return async function decodeRecordBatch(fetchDecoder: FetchBytes) {
    const fetched = fetchDecoder.buffer;
    const at = fetchDecoder.offset;
    const firstOffset = fetched.readBigInt64BE(at).toString();
    const length = fetched.readInt32BE(at + 8);
    fetchDecoder.offset = at + BATCH_PREFIX + length;
    const remainingBytes = fetched.length - (at + BATCH_PREFIX);
    if (remainingBytes < length) {
      throw new PartialMessageError(
        `Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`,
      );
    }
    const batch = fetched.subarray(at + BATCH_PREFIX, at + BATCH_PREFIX + length);
    const attributes = batch.readInt16BE(9);
    const inTransaction = (attributes & TRANSACTIONAL_FLAG_MASK) > 0;
    const isControlBatch = (attributes & CONTROL_FLAG_MASK) > 0;
    const recordContext = {
      firstOffset,
      firstTimestamp: batch.readBigInt64BE(15).toString(),
      partitionLeaderEpoch: batch.readInt32BE(0),
      inTransaction,
      isControlBatch,
      lastOffsetDelta: batch.readInt32BE(11),
      producerId: batch.readBigInt64BE(31).toString(),
      producerEpoch: batch.readInt16BE(39),
      firstSequence: batch.readInt32BE(41),
      maxTimestamp: batch.readBigInt64BE(23).toString(),
      timestampType: (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : 0,
    };
    const context = { ...recordContext, magicByte: batch.readInt8(4) };
    const codec = lookupCodecByAttributes(attributes);
    const count = batch.readInt32BE(RECORDS_AT);
    let records: FetchedRecord[];
    if (!codec) {
      records = count === -1 ? [] : readRecords(new RecordReader(batch, RECORDS_AT + 4), count, context);
    } else if (count <= 0) {
      records = [];
    } else {
      const decompressed = await codec.decompress(batch.subarray(RECORDS_AT + 4));
      records = readRecords(new RecordReader(decompressed, 0), count, context);
    }
    return { ...recordContext, records };
  };
}

/** A consumer's message as kafkajs types it (ours is a FetchedRecord; another decoder's a plain object). */
interface KafkaMessage {
  value: Buffer | null;
  timestamp: string;
  headers?: Record<string, Buffer | string | (Buffer | string | null)[] | undefined | null>;
}

/** A message's value as UTF-8 text (null for a tombstone), straight from the fetched bytes when it is ours. */
export function messageText(message: KafkaMessage): string | null {
  if (message instanceof FetchedRecord) return message.valueText();
  return message.value === null ? null : message.value.toString("utf8");
}

/** A message's Kafka timestamp in ms since the epoch. */
export function messageTimestampMs(message: KafkaMessage): number {
  return message instanceof FetchedRecord ? message.timestampMs() : Number(message.timestamp);
}

/** A header's value as text (a name that came several times: the values joined by ","), undefined when absent or null. */
export function messageHeaderText(message: KafkaMessage, name: string): string | undefined {
  if (message instanceof FetchedRecord) return message.headerText(name);
  const value = message.headers?.[name];
  return value == null ? undefined : String(value);
}
