/**
 * Binary events, format byte 0x02 (v1). Events are rare (ignition, trouble codes, gaps, agent start), so this
 * layout is plain rather than tuned: no prediction across events except the timestamp delta.
 *
 *   byte 0       0x02
 *   bytes 1-8    stream id
 *   eg(0)        event count - 1
 *   uintLen      seq of the first event, bit contiguous (as telemetry, wire-common.ts)
 *   bit          1: every ts is a whole second (coded in seconds), 0: milliseconds
 *   per event:
 *     [seq part when not contiguous]
 *     ts           first: signed eg(24 s / 34 ms) since 2025-01-01; later: signed eg(6 s / 16 ms) delta
 *     bit          timeSource (0 gnss, 1 system)
 *     bit          gps present; then fix(2) and per gps field bit null / bit value + absolute (as telemetry)
 *     2 bits       type: 0 ignition, 1 dtc, 2 gap, 3 start (v2: 3 bits, 4 source, 5 thinned)
 *     ignition: bit on | dtc: bit cleared, bit j1939 + spn(19) fmi(5) oc(7), bit obd + letter(2) digit(2) hex(12)
 *     gap: bit channel (0 telemetry, 1 events), uintLen fromSeq, toSeq, count, eg(0) reason index
 *     start: agentVersion, bootId as eg(4) UTF-8 byte length + bytes
 *     source (v2): eg(2) engine field index (records.ts order), from(11), to(11)
 *     thinned (v2): uintLen fromSeq, toSeq, count, eg(4) keptEveryS (the channel is always telemetry)
 *   v2 (0x04): every J1939 code is followed by bit sa present + sa(8)
 *   zero bits to the byte boundary
 */

import { BitReader, BitWriter } from "./bits.ts";
import { EngineSchema, type EventRecord, type Gps } from "./records.ts";
import { beginBatch, readBatchHeader, readJ1939, readObd, TS_EPOCH_MS, writeJ1939, writeObd } from "./wire-common.ts";
import { type BinaryVersion, FORMAT_EVENTS_V1, FORMAT_EVENTS_V2 } from "./wire-format.ts";
import { FIXES, GPS_FIELDS, GPS_KEYS } from "./wire-telemetry.ts";

const TYPES = ["ignition", "dtc", "gap", "start", "source", "thinned"] as const;
const SIGNALS = EngineSchema.keyof().options;
const CHANNELS = ["telemetry", "events"] as const;
// Append only: the index is on the wire (a bridge older than a reason dead-letters events carrying it).
const GAP_REASONS = ["outbox-full", "disk-full", "recovery"] as const;
const MAX_STRING_BYTES = 256;

/** v2 only for a source or thinned event or a trouble code with its source address (wire-format.ts). */
export function eventsVersion(records: EventRecord[]): BinaryVersion {
  const needsV2 = (e: EventRecord) =>
    e.type === "source" || e.type === "thinned" || (e.type === "dtc" && e.dtc.j1939?.sa !== undefined);
  return records.some(needsV2) ? 2 : 1;
}

export function encodeEventsBinary(records: EventRecord[], version: BinaryVersion): Buffer {
  const { out, writeSeq, seconds } = beginBatch(version === 1 ? FORMAT_EVENTS_V1 : FORMAT_EVENTS_V2, records, 16);
  let prevTs = 0;
  for (const [i, event] of records.entries()) {
    writeSeq(i);
    const ms = Date.parse(event.ts) - TS_EPOCH_MS;
    const ts = seconds ? ms / 1000 : ms;
    out.signed(ts - prevTs, i === 0 ? (seconds ? 24 : 34) : seconds ? 6 : 16);
    prevTs = ts;
    out.bit(event.timeSource === "system");
    writeGps(out, event.gps);
    out.bits(TYPES.indexOf(event.type), version === 1 ? 2 : 3);
    switch (event.type) {
      case "ignition":
        out.bit(event.on);
        break;
      case "dtc":
        out.bit(event.change === "cleared");
        out.bit(event.dtc.j1939 !== undefined);
        if (event.dtc.j1939) writeJ1939(out, event.dtc.j1939, version);
        out.bit(event.dtc.obd !== undefined);
        if (event.dtc.obd !== undefined) writeObd(out, event.dtc.obd);
        break;
      case "gap":
        out.bit(event.channel === "events");
        out.uintLen(event.fromSeq);
        out.uintLen(event.toSeq);
        out.uintLen(event.count);
        out.eg(GAP_REASONS.indexOf(event.reason), 0);
        break;
      case "start":
        writeString(out, event.agentVersion);
        writeString(out, event.bootId);
        break;
      case "source":
        out.eg(SIGNALS.indexOf(event.signal), 2);
        out.bits(event.from, 11);
        out.bits(event.to, 11);
        break;
      case "thinned":
        out.uintLen(event.fromSeq);
        out.uintLen(event.toSeq);
        out.uintLen(event.count);
        out.eg(event.keptEveryS, 4);
        break;
    }
  }
  return out.finish();
}

export function decodeEventsBinary(truckId: string, bytes: Uint8Array, version: BinaryVersion): unknown[] {
  const { input, stream, count, nextSeq, seconds } = readBatchHeader(bytes, {
    payload: "binary events",
    records: "events",
  });
  const records: unknown[] = [];
  let prevTs = 0;
  for (let i = 0; i < count; i++) {
    const seq = nextSeq();
    const ts = prevTs + input.signed(i === 0 ? (seconds ? 24 : 34) : seconds ? 6 : 16);
    prevTs = ts;
    const ms = TS_EPOCH_MS + (seconds ? ts * 1000 : ts);
    if (!(Math.abs(ms) <= 8.64e15)) input.fail("timestamp out of range");
    const event: Record<string, unknown> = {
      truckId,
      stream,
      seq,
      ts: new Date(ms).toISOString(),
      timeSource: input.bit() === 1 ? "system" : "gnss",
    };
    const gps = readGps(input);
    if (gps !== undefined) event.gps = gps;
    const type = TYPES[input.bits(version === 1 ? 2 : 3)] ?? input.fail("unknown event type");
    event.type = type;
    switch (type) {
      case "ignition":
        event.on = input.bit() === 1;
        break;
      case "dtc": {
        event.change = input.bit() === 1 ? "cleared" : "raised";
        const dtc: Record<string, unknown> = {};
        if (input.bit() === 1) dtc.j1939 = readJ1939(input, version);
        if (input.bit() === 1) dtc.obd = readObd(input);
        event.dtc = dtc;
        break;
      }
      case "gap":
        event.channel = CHANNELS[input.bit()];
        event.fromSeq = input.uintLen();
        event.toSeq = input.uintLen();
        event.count = input.uintLen();
        event.reason = GAP_REASONS[input.eg(0)] ?? input.fail("unknown gap reason");
        break;
      case "start":
        event.agentVersion = readString(input);
        event.bootId = readString(input);
        break;
      case "source":
        event.signal = SIGNALS[input.eg(2)] ?? input.fail("unknown engine signal");
        event.from = input.bits(11);
        event.to = input.bits(11);
        break;
      case "thinned":
        event.channel = "telemetry";
        event.fromSeq = input.uintLen();
        event.toSeq = input.uintLen();
        event.count = input.uintLen();
        event.keptEveryS = input.eg(4);
        break;
    }
    records.push(event);
  }
  input.expectEnd();
  return records;
}

function writeGps(out: BitWriter, gps: Gps | undefined): void {
  out.bit(gps !== undefined);
  if (gps === undefined) return;
  out.bits(FIXES.indexOf(gps.fix), 2);
  for (const key of GPS_KEYS) {
    const value = gps[key];
    const spec = GPS_FIELDS[key];
    out.bit(value !== null);
    if (value === null) continue;
    const scaled = Math.round(value * 10 ** spec.decimals);
    if (spec.signed) out.signed(scaled, spec.kAbs);
    else out.eg(scaled, spec.kAbs);
  }
}

function readGps(input: BitReader): Record<string, unknown> | undefined {
  if (input.bit() === 0) return undefined;
  const gps: Record<string, unknown> = { fix: FIXES[input.bits(2)] };
  for (const key of GPS_KEYS) {
    const spec = GPS_FIELDS[key];
    gps[key] =
      input.bit() === 0 ? null : (spec.signed ? input.signed(spec.kAbs) : input.eg(spec.kAbs)) / 10 ** spec.decimals;
  }
  return gps;
}

function writeString(out: BitWriter, text: string): void {
  const bytes = new TextEncoder().encode(text);
  out.eg(bytes.length, 4);
  out.byteString(bytes);
}

function readString(input: BitReader): string {
  const length = input.eg(4);
  if (length > MAX_STRING_BYTES) input.fail(`string of ${length} bytes (max ${MAX_STRING_BYTES})`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(input.byteString(length));
  } catch {
    return input.fail("string is not valid UTF-8");
  }
}
