/**
 * Binary telemetry, format byte 0x01 (v1). Layout (bits are most significant first, see bits.ts for the codes):
 *
 *   byte 0       0x01
 *   bytes 1-8    stream id (16 hex digits as 8 bytes)
 *   eg(0)        record count - 1
 *   uintLen      seq of the first record
 *   bit          1: seqs are contiguous (seq_i = seq_0 + i); 0: each later record says its own seq
 *   bit          1: every ts is a whole second (ts coded in seconds); 0: ts coded in milliseconds
 *   per record:
 *     [if seqs not contiguous and not the first] bit 1 + eg(0) (seq - previous - 1), or bit 0 + uintLen(seq)
 *     bit          1: the changed mask equals the previous record's (for the first record: DEFAULT_FIRST_MASK)
 *     [27 bits]    else the changed mask, one bit per slot (see NUMERIC_SLOTS), then dtcs, obdDtcs
 *     [first only] bit 1: no field is null (slot tokens then skip the absent/null/value state bit)
 *     per changed slot, its token (wire-slots.ts), or for the two trouble-code lists: bit present,
 *       eg(0) count, then per code J1939 spn(19) fmi(5) oc(7) / OBD-II letter(2) digit(2) hex(12)
 *   zero bits to the byte boundary
 *
 * The truck id is not carried (it is the MQTT topic's). Every number is carried as an integer at the resolution
 * records.ts states, so a valid record survives encode -> decode unchanged. Predictors and Exp-Golomb orders are
 * tuned on a realistic 1 Hz drive (test/bench/wire.ts); changing any of them is a new format byte.
 */

import { BitReader, BitWriter } from "./bits.ts";
import type { Engine, Gps, J1939Dtc, TelemetryRecord } from "./records.ts";
import { beginBatch, readBatchHeader, readJ1939, readObd, TS_EPOCH_MS, writeJ1939, writeObd } from "./wire-common.ts";
import { type BinaryVersion, FORMAT_TELEMETRY_V1, FORMAT_TELEMETRY_V2 } from "./wire-format.ts";
import { ABSENT, NULL, type SlotSpec, SlotState, type SlotStateKind, VALUE } from "./wire-slots.ts";

export const FIXES = ["none", "2d", "3d"] as const;
export const TIME_SOURCES = ["gnss", "system"] as const;

type NumericField = { decimals: number } & Omit<SlotSpec, "name">;

export const GPS_FIELDS = {
  lat: { decimals: 7, predictor: "linear", kRes: 6, kAbs: 28, signed: true },
  lon: { decimals: 7, predictor: "linear", kRes: 6, kAbs: 28, signed: true },
  altM: { decimals: 1, predictor: "hold", kRes: 2, kAbs: 10, signed: true },
  speedKmh: { decimals: 1, predictor: "hold", kRes: 3, kAbs: 9, signed: false },
  courseDeg: { decimals: 1, predictor: "hold", kRes: 3, kAbs: 11, signed: false, wrap: 3600 },
  sats: { decimals: 0, predictor: "hold", kRes: 0, kAbs: 3, signed: false },
  hdop: { decimals: 1, predictor: "hold", kRes: 1, kAbs: 3, signed: false },
} as const satisfies Record<Exclude<keyof Gps, "fix">, NumericField>;

/** Booleans are slots with values 0 and 1. */
const ENGINE_FIELDS = {
  engineSpeedRpm: { decimals: 0, predictor: "hold", kRes: 4, kAbs: 10, signed: false },
  torquePct: { decimals: 0, predictor: "hold", kRes: 2, kAbs: 5, signed: true },
  wheelSpeedKmh: { decimals: 1, predictor: "hold", kRes: 3, kAbs: 9, signed: false },
  brakeSwitch: { decimals: 0, predictor: "hold", kRes: 0, kAbs: 0, signed: false },
  parkingBrake: { decimals: 0, predictor: "hold", kRes: 0, kAbs: 0, signed: false },
  coolantTempC: { decimals: 0, predictor: "hold", kRes: 0, kAbs: 6, signed: true },
  fuelRateLph: { decimals: 2, predictor: "hold", kRes: 6, kAbs: 11, signed: false },
  fuelLevelPct: { decimals: 1, predictor: "hold", kRes: 0, kAbs: 9, signed: false },
  engineHours: { decimals: 2, predictor: "hold", kRes: 0, kAbs: 20, signed: false },
  runTimeS: { decimals: 0, predictor: "linear", kRes: 0, kAbs: 10, signed: false },
  totalDistanceKm: { decimals: 3, predictor: "linear", kRes: 2, kAbs: 27, signed: false },
  totalFuelL: { decimals: 1, predictor: "hold", kRes: 0, kAbs: 20, signed: false },
  oilPressureKpa: { decimals: 0, predictor: "hold", kRes: 2, kAbs: 8, signed: false },
  ambientTempC: { decimals: 1, predictor: "hold", kRes: 0, kAbs: 8, signed: true },
} as const satisfies Record<keyof Engine, NumericField>;

export const GPS_KEYS = Object.keys(GPS_FIELDS) as (keyof typeof GPS_FIELDS)[];
const ENGINE_KEYS = Object.keys(ENGINE_FIELDS) as (keyof typeof ENGINE_FIELDS)[];
/** Per key, decoded once here rather than per record on the bridge's hot path: 10^decimals, and boolean or not. */
const GPS_SCALES = GPS_KEYS.map((key) => 10 ** GPS_FIELDS[key].decimals);
const ENGINE_SCALES = ENGINE_KEYS.map((key) => 10 ** ENGINE_FIELDS[key].decimals);
const ENGINE_BOOLEANS = ENGINE_KEYS.map((key) => key === "brakeSwitch" || key === "parkingBrake");

// Slot order: ts, timeSource, gps (fix), gps fields, engine (present), engine fields, then the two DTC lists.
const TS_SECONDS: SlotSpec = { name: "ts", predictor: "linear", kRes: 0, kAbs: 24, signed: true };
const TS_MILLIS: SlotSpec = { name: "ts", predictor: "linear", kRes: 6, kAbs: 34, signed: true };
const FLAG = (name: string): SlotSpec => ({ name, predictor: "hold", kRes: 0, kAbs: 0, signed: false });
const NUMERIC_SLOTS = (seconds: boolean): SlotSpec[] => [
  seconds ? TS_SECONDS : TS_MILLIS,
  FLAG("timeSource"),
  FLAG("gps"),
  ...GPS_KEYS.map((name) => ({ name, ...GPS_FIELDS[name] })),
  FLAG("engine"),
  ...ENGINE_KEYS.map((name) => ({ name, ...ENGINE_FIELDS[name] })),
];
/** Built once: every payload used to rebuild these 24 spec objects (a third of a one-record decode's time). */
const SLOT_SPECS = { seconds: NUMERIC_SLOTS(true), millis: NUMERIC_SLOTS(false) } as const;
const newSlots = (seconds: boolean): SlotState[] =>
  (seconds ? SLOT_SPECS.seconds : SLOT_SPECS.millis).map((spec) => new SlotState(spec));
const SLOT_COUNT = SLOT_SPECS.seconds.length + 2;

/**
 * The mask the first record's mask is compared with: a J1939 truck with a GPS (every slot present except OBD-II
 * run time and OBD-II trouble codes). Such a truck's single-record payload then spends 1 bit on its mask, not 27.
 */
const DEFAULT_FIRST_MASK: boolean[] = SLOT_SPECS.seconds.map((spec) => spec.name !== "runTimeS").concat([true, false]);

interface Flat {
  states: SlotStateKind[];
  values: number[];
  dtcs: J1939Dtc[] | undefined;
  obdDtcs: string[] | undefined;
}

function flatten(record: TelemetryRecord, seconds: boolean): Flat {
  const states: SlotStateKind[] = [];
  const values: number[] = [];
  const put = (state: SlotStateKind, value = 0) => {
    states.push(state);
    values.push(value);
  };
  const ms = Date.parse(record.ts) - TS_EPOCH_MS;
  put(VALUE, seconds ? ms / 1000 : ms);
  put(VALUE, TIME_SOURCES.indexOf(record.timeSource));
  const gps = record.gps;
  put(gps ? VALUE : ABSENT, gps ? FIXES.indexOf(gps.fix) : 0);
  for (const key of GPS_KEYS) putField(put, gps === undefined ? undefined : gps[key], GPS_FIELDS[key].decimals);
  const engine = record.engine;
  put(engine ? VALUE : ABSENT);
  for (const key of ENGINE_KEYS) putField(put, engine?.[key], ENGINE_FIELDS[key].decimals);
  return { states, values, dtcs: record.dtcs, obdDtcs: record.obdDtcs };
}

function putField(
  put: (state: SlotStateKind, value?: number) => void,
  value: number | boolean | null | undefined,
  decimals: number,
): void {
  if (value === undefined) put(ABSENT);
  else if (value === null) put(NULL);
  else if (typeof value === "boolean") put(VALUE, value ? 1 : 0);
  else put(VALUE, Math.round(value * 10 ** decimals));
}

/** v2 only when a trouble code carries its source address (wire-format.ts). */
export function telemetryVersion(records: TelemetryRecord[]): BinaryVersion {
  return records.some((r) => r.dtcs?.some((d) => d.sa !== undefined)) ? 2 : 1;
}

export function encodeTelemetryBinary(records: TelemetryRecord[], version: BinaryVersion): Buffer {
  const format = version === 1 ? FORMAT_TELEMETRY_V1 : FORMAT_TELEMETRY_V2;
  const { out, writeSeq, seconds } = beginBatch(format, records, 24);
  const slots = newSlots(seconds);
  let prevDtcs: J1939Dtc[] | undefined;
  let prevObd: string[] | undefined;
  let prevMask = DEFAULT_FIRST_MASK;
  for (const [i, record] of records.entries()) {
    writeSeq(i);
    const flat = flatten(record, seconds);
    const mask = slots.map((slot, s) => !slot.unchanged(flat.states[s]!, flat.values[s]!));
    mask.push(!sameList(prevDtcs, flat.dtcs, sameDtc), !sameList(prevObd, flat.obdDtcs, (a, b) => a === b));
    const same = mask.every((m, s) => m === prevMask[s]);
    out.bit(same);
    if (!same) for (const m of mask) out.bit(m);
    // The first record starts from all-absent slots: when none of its fields is null, a set mask bit means a
    // value and the per-slot state bit is left out.
    const noNulls = i === 0 && !flat.states.includes(NULL);
    if (i === 0) out.bit(noNulls);
    for (const [s, slot] of slots.entries()) {
      if (mask[s]) slot.write(out, flat.states[s]!, flat.values[s]!, noNulls);
      else slot.repeat();
    }
    if (mask[slots.length]) writeDtcs(out, flat.dtcs, version);
    if (mask[slots.length + 1]) writeObdDtcs(out, flat.obdDtcs);
    prevDtcs = flat.dtcs;
    prevObd = flat.obdDtcs;
    prevMask = mask;
  }
  return out.finish();
}

export function decodeTelemetryBinary(truckId: string, bytes: Uint8Array, version: BinaryVersion): unknown[] {
  const { input, stream, count, nextSeq, seconds } = readBatchHeader(bytes, {
    payload: "binary telemetry",
    records: "records",
  });
  const slots = newSlots(seconds);
  const records: unknown[] = [];
  let dtcs: J1939Dtc[] | undefined;
  let obdDtcs: string[] | undefined;
  let mask = DEFAULT_FIRST_MASK;
  for (let i = 0; i < count; i++) {
    const seq = nextSeq();
    if (input.bit() === 0) {
      mask = [];
      for (let s = 0; s < SLOT_COUNT; s++) mask.push(input.bit() === 1);
    }
    const noNulls = i === 0 && input.bit() === 1;
    for (let s = 0; s < slots.length; s++) {
      if (mask[s]) slots[s]!.read(input, noNulls);
      else slots[s]!.repeat();
    }
    if (mask[slots.length]) dtcs = readDtcs(input, version);
    if (mask[slots.length + 1]) obdDtcs = readObdDtcs(input);
    records.push(unflatten(truckId, stream, seq, slots, seconds, dtcs, obdDtcs, input));
  }
  input.expectEnd();
  return records;
}

function unflatten(
  truckId: string,
  stream: string,
  seq: number,
  slots: SlotState[],
  seconds: boolean,
  dtcs: J1939Dtc[] | undefined,
  obdDtcs: string[] | undefined,
  input: BitReader,
): unknown {
  let s = 0;
  const tsSlot = slots[s++]!;
  const ms = TS_EPOCH_MS + (seconds ? tsSlot.last * 1000 : tsSlot.last);
  if (tsSlot.state !== VALUE || !(Math.abs(ms) <= 8.64e15)) input.fail("timestamp missing or out of range");
  const record: Record<string, unknown> = {
    truckId,
    stream,
    seq,
    ts: new Date(ms).toISOString(),
    timeSource: enumOf(slots[s++]!, TIME_SOURCES),
  };
  const gpsSlot = slots[s++]!;
  const gps: Record<string, unknown> = { fix: enumOf(gpsSlot, FIXES) };
  let gpsFields = 0;
  for (let k = 0; k < GPS_KEYS.length; k += 1) {
    const value = fieldOf(slots[s++]!, GPS_SCALES[k]!, false);
    gps[GPS_KEYS[k]!] = value;
    if (value !== undefined) gpsFields += 1;
  }
  if (gpsSlot.state === VALUE) record.gps = gps;
  else if (gpsFields > 0) input.fail("gps fields without a gps part");
  const engineSlot = slots[s++]!;
  const engine: Record<string, unknown> = {};
  let engineFields = 0;
  for (let k = 0; k < ENGINE_KEYS.length; k += 1) {
    const value = fieldOf(slots[s++]!, ENGINE_SCALES[k]!, ENGINE_BOOLEANS[k]!);
    if (value !== undefined) {
      engine[ENGINE_KEYS[k]!] = value;
      engineFields += 1;
    }
  }
  if (engineSlot.state === VALUE) record.engine = engine;
  else if (engineFields > 0) input.fail("engine fields without an engine part");
  if (dtcs !== undefined) record.dtcs = dtcs.map((d) => ({ ...d }));
  if (obdDtcs !== undefined) record.obdDtcs = [...obdDtcs];
  return record;
}

function enumOf<T>(slot: SlotState, values: readonly T[]): T | undefined {
  return slot.state === VALUE ? values[slot.last] : undefined;
}

function fieldOf(slot: SlotState, scale: number, boolean: boolean): unknown {
  if (slot.state === ABSENT) return undefined;
  if (slot.state === NULL) return null;
  if (boolean) return slot.last === 1 ? true : slot.last === 0 ? false : slot.last;
  // Divide (not multiply by 0.1): the same operation roundTo uses, so the value equals the producer's.
  return slot.last / scale;
}

function sameDtc(a: J1939Dtc, b: J1939Dtc): boolean {
  return a.spn === b.spn && a.fmi === b.fmi && a.oc === b.oc;
}

function sameList<T>(a: T[] | undefined, b: T[] | undefined, same: (x: T, y: T) => boolean): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => same(x, b[i]!));
}

function writeDtcs(out: BitWriter, dtcs: J1939Dtc[] | undefined, version: BinaryVersion): void {
  out.bit(dtcs !== undefined);
  if (dtcs === undefined) return;
  out.eg(dtcs.length, 0);
  for (const d of dtcs) writeJ1939(out, d, version);
}

const MAX_DTCS = 64;

function readDtcs(input: BitReader, version: BinaryVersion): J1939Dtc[] | undefined {
  if (input.bit() === 0) return undefined;
  const count = input.eg(0);
  if (count > MAX_DTCS) input.fail(`${count} trouble codes (max ${MAX_DTCS})`);
  const out: J1939Dtc[] = [];
  for (let i = 0; i < count; i++) out.push(readJ1939(input, version));
  return out;
}

function writeObdDtcs(out: BitWriter, codes: string[] | undefined): void {
  out.bit(codes !== undefined);
  if (codes === undefined) return;
  out.eg(codes.length, 0);
  for (const code of codes) writeObd(out, code);
}

function readObdDtcs(input: BitReader): string[] | undefined {
  if (input.bit() === 0) return undefined;
  const count = input.eg(0);
  if (count > MAX_DTCS) input.fail(`${count} OBD-II trouble codes (max ${MAX_DTCS})`);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(readObd(input));
  return out;
}
