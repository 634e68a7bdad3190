/**
 * Records as lines of PostgreSQL's COPY text format, in the column order of the staging tables (migrations.ts).
 * The text format: columns separated by a tab, NULL written as \N, and backslash, tab, newline and carriage return
 * escaped with a backslash (PostgreSQL docs, "COPY", File Formats / Text Format).
 */
import type { EventRecord, TelemetryRecord } from "../../protocol/records.ts";
import type { Delivered } from "../runtime/types.ts";

export const TELEMETRY_COLUMNS = [
  "truck_id",
  "stream",
  "seq",
  "ts",
  "time_source",
  "fix",
  "lat",
  "lon",
  "alt_m",
  "speed_kmh",
  "course_deg",
  "sats",
  "hdop",
  "engine_speed_rpm",
  "torque_pct",
  "wheel_speed_kmh",
  "brake_switch",
  "parking_brake",
  "coolant_temp_c",
  "fuel_rate_lph",
  "fuel_level_pct",
  "engine_hours",
  "run_time_s",
  "total_distance_km",
  "total_fuel_l",
  "oil_pressure_kpa",
  "ambient_temp_c",
  "dtcs",
  "obd_dtcs",
  "kafka_partition",
  "kafka_offset",
  "received_at",
] as const;

export const EVENT_COLUMNS = [
  "truck_id",
  "stream",
  "seq",
  "ts",
  "time_source",
  "kind",
  "details",
  "lat",
  "lon",
  "dtc_spn",
  "dtc_fmi",
  "dtc_obd",
  "kafka_partition",
  "kafka_offset",
  "received_at",
] as const;

type Cell = string | number | boolean | null | undefined;

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const SPECIAL = /[\\\t\n\r]/;

function cell(value: Cell): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "number") return String(value);
  // Almost no value holds a character to escape: test first, so the common case builds no new string.
  return SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : value;
}

/** One line of cells; a loop, not map + join, which built two arrays per row (a few thousand rows a batch). */
function line(cells: Cell[]): string {
  let out = cell(cells[0]);
  for (let i = 1; i < cells.length; i += 1) out += `\t${cell(cells[i])}`;
  return `${out}\n`;
}

/** The bridge's receive time, or the Kafka timestamp for records produced without the header. */
function receivedAt(d: Delivered<unknown>): string {
  return d.receivedAt ?? new Date(d.kafkaTimestamp).toISOString();
}

export function telemetryLine(d: Delivered<TelemetryRecord>, partition: number): string {
  const r = d.record;
  const g = r.gps;
  const e = r.engine;
  return line([
    r.truckId,
    r.stream,
    r.seq,
    r.ts,
    r.timeSource,
    g?.fix,
    g?.lat,
    g?.lon,
    g?.altM,
    g?.speedKmh,
    g?.courseDeg,
    g?.sats,
    g?.hdop,
    e?.engineSpeedRpm,
    e?.torquePct,
    e?.wheelSpeedKmh,
    e?.brakeSwitch,
    e?.parkingBrake,
    e?.coolantTempC,
    e?.fuelRateLph,
    e?.fuelLevelPct,
    e?.engineHours,
    e?.runTimeS,
    e?.totalDistanceKm,
    e?.totalFuelL,
    e?.oilPressureKpa,
    e?.ambientTempC,
    r.dtcs === undefined ? null : JSON.stringify(r.dtcs),
    // OBD codes match [PCBU][0-3][0-9A-F]{3}: nothing in them needs array quoting.
    r.obdDtcs === undefined ? null : `{${r.obdDtcs.join(",")}}`,
    partition,
    d.offset,
    receivedAt(d),
  ]);
}

export function eventLine(d: Delivered<EventRecord>, partition: number): string {
  const r = d.record;
  // details: the type's own fields (the envelope and gps have columns of their own).
  const { truckId, stream, seq, ts, timeSource, type, gps, ...details } = r;
  const dtc = r.type === "dtc" ? r.dtc : undefined;
  return line([
    truckId,
    stream,
    seq,
    ts,
    timeSource,
    type,
    JSON.stringify(details),
    gps?.lat,
    gps?.lon,
    dtc?.j1939?.spn,
    dtc?.j1939?.fmi,
    dtc?.obd,
    partition,
    d.offset,
    receivedAt(d),
  ]);
}
