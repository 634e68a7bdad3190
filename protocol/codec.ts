/**
 * The wire codec (truck -> bridge): one MQTT payload carries a batch of records of ONE truck, ONE stream and ONE
 * channel (telemetry or events). The truck id is not in the payload: it comes from the MQTT topic, because every
 * byte costs money on a cellular link.
 *
 * Two forms, told apart by the first byte (decoders auto-detect):
 * - binary (default): a format byte (0x01 telemetry v1, 0x02 events v1, 0x03/0x04 their v2 with trouble codes' source
 *   addresses and source events), then a bit-packed, delta-coded batch.
 *   See wire-telemetry.ts / wire-events.ts for the layout.
 * - JSON (debugging, tests, `mosquitto_pub`): a record object or an array of record objects, starting with `{` or
 *   `[` (leading whitespace allowed). `truckId` may be omitted; when present it must equal the topic's.
 *
 * Decoders treat their input as untrusted: they never throw, they refuse anything larger than `maxBytes`, and every
 * failure is a FleetError with a stable code (FLEET_PAYLOAD_INVALID / _VERSION / _TOO_LARGE) and a message that says
 * what was wrong. Encoders validate their input and throw FLEET_PAYLOAD_INVALID for records that are not valid.
 */

import type { z } from "zod";
import { FleetError } from "../common/errors.ts";
import { type EventRecord, EventRecordSchema, type TelemetryRecord, TelemetryRecordSchema } from "./records.ts";
import { isTruckId } from "./truck-id.ts";
import { compileValidator, INVALID, type Validator } from "./validate.ts";
import { decodeEventsBinary, encodeEventsBinary, eventsVersion } from "./wire-events.ts";
import {
  type BinaryVersion,
  FORMAT_EVENTS_V1,
  FORMAT_EVENTS_V2,
  FORMAT_TELEMETRY_V1,
  FORMAT_TELEMETRY_V2,
  isReservedFormatByte,
  MAX_RECORDS_PER_PAYLOAD,
} from "./wire-format.ts";
import { decodeTelemetryBinary, encodeTelemetryBinary, telemetryVersion } from "./wire-telemetry.ts";

export type WireFormat = "binary" | "json";

/**
 * Largest payload a decoder accepts (256 KiB). A backlog batch of MAX_RECORDS_PER_PAYLOAD binary records is far
 * below it; JSON is for debugging and small batches. The bridge should set its MQTT maximum packet size near this.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

export { MAX_RECORDS_PER_PAYLOAD };

export interface EncodeOptions {
  format?: WireFormat;
}

export interface DecodeOptions {
  /** Refuse payloads larger than this (default and ceiling: MAX_PAYLOAD_BYTES). */
  maxBytes?: number;
}

export type DecodeResult<T> = { ok: true; records: T[] } | { ok: false; error: FleetError };

type Channel = "telemetry" | "events";

/** A record schema (the source of truth, and the one that explains a refusal) with its compiled fast validator. */
interface RecordRules<T> {
  schema: z.ZodType<T>;
  validate: Validator<T>;
}

// Compiled at import: a schema the compiler cannot read stops the bridge and the agent at start-up (validate.ts).
const TELEMETRY: RecordRules<TelemetryRecord> = {
  schema: TelemetryRecordSchema,
  validate: compileValidator(TelemetryRecordSchema),
};
const EVENTS: RecordRules<EventRecord> = { schema: EventRecordSchema, validate: compileValidator(EventRecordSchema) };

export function encodeTelemetry(records: TelemetryRecord[], options: EncodeOptions = {}): Buffer {
  const valid = validateForEncode(records, TELEMETRY, "telemetry");
  return options.format === "json" ? encodeJson(valid) : encodeTelemetryBinary(valid, telemetryVersion(valid));
}

export function encodeEvents(records: EventRecord[], options: EncodeOptions = {}): Buffer {
  const valid = validateForEncode(records, EVENTS, "events");
  return options.format === "json" ? encodeJson(valid) : encodeEventsBinary(valid, eventsVersion(valid));
}

/** truckId comes from the MQTT topic; the payload need not carry it (bytes cost money on cellular). */
export function decodeTelemetry(
  truckId: string,
  payload: Uint8Array,
  options: DecodeOptions = {},
): DecodeResult<TelemetryRecord> {
  return decode(truckId, payload, options, "telemetry", TELEMETRY, decodeTelemetryBinary);
}

export function decodeEvents(
  truckId: string,
  payload: Uint8Array,
  options: DecodeOptions = {},
): DecodeResult<EventRecord> {
  return decode(truckId, payload, options, "events", EVENTS, decodeEventsBinary);
}

// ---------------------------------------------------------------------------------------------------------------

function invalid(message: string, details?: Record<string, unknown>): FleetError {
  return new FleetError("FLEET_PAYLOAD_INVALID", message, details ? { details } : {});
}

/**
 * One record against its rules: the compiled validator decides what to accept (fast, and the same rules as zod);
 * zod is asked only about a record it refused, to name the field in the error. Should the two ever disagree
 * (validate.test.ts makes sure they do not), zod's verdict stands.
 */
function parseRecord<T>(
  candidate: unknown,
  rules: RecordRules<T>,
): { success: true; data: T } | z.ZodSafeParseError<T> {
  const fast = rules.validate(candidate);
  if (fast !== INVALID) return { success: true, data: fast };
  return rules.schema.safeParse(candidate);
}

function validateForEncode<T extends { truckId: string; stream: string }>(
  records: T[],
  rules: RecordRules<T>,
  channel: Channel,
): T[] {
  if (!Array.isArray(records) || records.length === 0) throw invalid(`cannot encode an empty ${channel} batch`);
  if (records.length > MAX_RECORDS_PER_PAYLOAD) {
    throw invalid(`cannot encode ${records.length} ${channel} records in one payload (max ${MAX_RECORDS_PER_PAYLOAD})`);
  }
  const out: T[] = [];
  for (const [i, record] of records.entries()) {
    const parsed = parseRecord(record, rules);
    if (!parsed.success) throw invalid(`${channel} record ${i}: ${describeIssues(parsed.error)}`, { index: i });
    const first = records[0]!;
    if (parsed.data.truckId !== first.truckId || parsed.data.stream !== first.stream) {
      throw invalid(`${channel} record ${i}: all records of one payload must share truckId and stream`, { index: i });
    }
    out.push(parsed.data);
  }
  return out;
}

function encodeJson(records: { truckId: string }[]): Buffer {
  // The topic carries the truck id, so the JSON form leaves it out too.
  return Buffer.from(JSON.stringify(records.map(({ truckId: _, ...rest }) => rest)), "utf8");
}

/** Names the first few problems zod found, with their paths, e.g. `gps.lat: Too big: expected number to be <=90`. */
export function describeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  if (error.issues.length > 3) parts.push(`and ${error.issues.length - 3} more`);
  return parts.join("; ");
}

function isJsonStart(byte: number): boolean {
  // `{`, `[`, or JSON whitespace (RFC 8259 section 2) before them.
  return byte === 0x7b || byte === 0x5b || byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

const BINARY_FORMATS = new Map<number, { channel: Channel; version: BinaryVersion }>([
  [FORMAT_TELEMETRY_V1, { channel: "telemetry", version: 1 }],
  [FORMAT_EVENTS_V1, { channel: "events", version: 1 }],
  [FORMAT_TELEMETRY_V2, { channel: "telemetry", version: 2 }],
  [FORMAT_EVENTS_V2, { channel: "events", version: 2 }],
]);

function decode<T extends { truckId: string; stream: string; seq: number }>(
  truckId: string,
  payload: Uint8Array,
  options: DecodeOptions,
  channel: Channel,
  rules: RecordRules<T>,
  decodeBinary: (truckId: string, bytes: Uint8Array, version: BinaryVersion) => unknown[],
): DecodeResult<T> {
  try {
    if (!isTruckId(truckId)) {
      return { ok: false, error: invalid(`topic truck id ${JSON.stringify(truckId)} is not a valid truck id`) };
    }
    if (!(payload instanceof Uint8Array)) return { ok: false, error: invalid("payload is not a byte array") };
    // A caller's limit can only lower the ceiling; a nonsense limit (NaN, negative) must not lift it.
    const asked = options.maxBytes;
    const maxBytes = typeof asked === "number" && asked >= 0 ? Math.min(asked, MAX_PAYLOAD_BYTES) : MAX_PAYLOAD_BYTES;
    if (payload.length > maxBytes) {
      return {
        ok: false,
        error: new FleetError(
          "FLEET_PAYLOAD_TOO_LARGE",
          `${channel} payload of ${payload.length} bytes is larger than the ${maxBytes} bytes accepted`,
          { details: { bytes: payload.length, maxBytes } },
        ),
      };
    }
    if (payload.length === 0) return { ok: false, error: invalid(`${channel} payload is empty`) };
    const first = payload[0]!;
    let candidates: unknown[];
    if (isJsonStart(first)) {
      const parsed = parseJson(truckId, payload, channel);
      if (!parsed.ok) return parsed;
      candidates = parsed.records;
    } else if (BINARY_FORMATS.has(first)) {
      const known = BINARY_FORMATS.get(first)!;
      if (known.channel !== channel) {
        return { ok: false, error: invalid(`payload is a binary ${known.channel} batch, not ${channel}`) };
      }
      candidates = decodeBinary(truckId, payload, known.version);
    } else if (isReservedFormatByte(first)) {
      return {
        ok: false,
        error: new FleetError(
          "FLEET_PAYLOAD_VERSION",
          `${channel} payload format byte 0x${hex(first)} is not one this build reads ` +
            `(0x${hex(FORMAT_TELEMETRY_V1)}/0x${hex(FORMAT_TELEMETRY_V2)} telemetry v1/v2, ` +
            `0x${hex(FORMAT_EVENTS_V1)}/0x${hex(FORMAT_EVENTS_V2)} events v1/v2, or JSON); ` +
            "is the agent newer than the bridge?",
          { details: { formatByte: first } },
        ),
      };
    } else {
      return {
        ok: false,
        error: invalid(`${channel} payload starts with byte 0x${hex(first)}: neither a FleetSync format byte nor JSON`),
      };
    }
    return validateDecoded(candidates, rules, channel);
  } catch (error) {
    // The binary decoders signal malformed input with FleetError; anything else is a bug we still must not throw.
    if (error instanceof FleetError) return { ok: false, error };
    return {
      ok: false,
      error: new FleetError("FLEET_PAYLOAD_INVALID", `${channel} payload could not be decoded: ${String(error)}`, {
        cause: error,
      }),
    };
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

function parseJson(
  truckId: string,
  payload: Uint8Array,
  channel: Channel,
): { ok: true; records: unknown[] } | { ok: false; error: FleetError } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (error) {
    return { ok: false, error: invalid(`${channel} payload is not valid JSON: ${(error as Error).message}`) };
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return { ok: false, error: invalid(`${channel} payload is an empty JSON array`) };
  if (list.length > MAX_RECORDS_PER_PAYLOAD) {
    return {
      ok: false,
      error: invalid(`${channel} payload has ${list.length} records (max ${MAX_RECORDS_PER_PAYLOAD} per payload)`),
    };
  }
  const records: unknown[] = [];
  for (const [i, item] of list.entries()) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return { ok: false, error: invalid(`${channel} record ${i} is not a JSON object`, { index: i }) };
    }
    const obj = item as Record<string, unknown>;
    if ("truckId" in obj && obj.truckId !== truckId) {
      return {
        ok: false,
        error: invalid(
          `${channel} record ${i} has truckId ${JSON.stringify(obj.truckId)} but was published on the topic of ${truckId}`,
          { index: i },
        ),
      };
    }
    // truckId first, so decoded JSON and binary records print alike.
    records.push({ truckId, ...obj });
  }
  return { ok: true, records };
}

function validateDecoded<T extends { truckId: string; stream: string; seq: number }>(
  candidates: unknown[],
  rules: RecordRules<T>,
  channel: Channel,
): DecodeResult<T> {
  const records: T[] = [];
  for (const [i, candidate] of candidates.entries()) {
    const parsed = parseRecord(candidate, rules);
    if (!parsed.success) {
      return { ok: false, error: invalid(`${channel} record ${i}: ${describeIssues(parsed.error)}`, { index: i }) };
    }
    if (i > 0 && parsed.data.stream !== records[0]!.stream) {
      return {
        ok: false,
        error: invalid(`${channel} record ${i} has stream ${parsed.data.stream}, record 0 has ${records[0]!.stream}`, {
          index: i,
        }),
      };
    }
    // A payload is a slice of one outbox in order: its seqs rise (issue 13.9). Resends happen across payloads,
    // never inside one; a payload that goes back would make consumers report gaps that are not there.
    const previous = records[i - 1];
    if (previous && parsed.data.seq <= previous.seq) {
      return {
        ok: false,
        error: invalid(`${channel} record ${i}: seq ${parsed.data.seq} after seq ${previous.seq} (seqs must rise)`, {
          index: i,
        }),
      };
    }
    records.push(parsed.data);
  }
  return { ok: true, records };
}
