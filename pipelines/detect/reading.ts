/**
 * What the telemetry detectors read from a record: event time, position, engine running, speed, fuel level. The
 * contract's `null` (ECU said "not available") and absent (not reported) both become undefined: unknown, never 0.
 */
import type { TelemetryRecord } from "../../protocol/records.ts";
import type { Moment } from "./alert.ts";

export interface Reading extends Moment {
  /** Kafka time of the record (when the bridge wrote it): the clock of the silent detector and of eviction. */
  arrivalMs: number;
  /** Engine speed above 0 rpm; undefined when the truck does not report it. */
  engineOn: boolean | undefined;
  engineSpeedRpm: number | undefined;
  /** GPS speed when there is a fix, else the wheel-based speed. */
  speedKmh: number | undefined;
  fuelPct: number | undefined;
  /**
   * Durations are measured only between records with GNSS time. A gateway without a fix stamps records with its
   * own clock, which on a Pi without an RTC battery can be hours or years off until NTP or a fix sets it; such a
   * record still counts as a fact (the engine stopped, the truck moved) but never starts or ends a timed wait.
   */
  timed: boolean;
}

const known = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export function readTelemetry(record: TelemetryRecord, arrivalMs: number): Reading {
  const gps = record.gps;
  const fixed = gps !== undefined && gps.fix !== "none";
  const rpm = known(record.engine?.engineSpeedRpm);
  const reading: Reading = {
    truckId: record.truckId,
    stream: record.stream,
    seq: record.seq,
    tsMs: Date.parse(record.ts),
    timeSource: record.timeSource,
    arrivalMs,
    engineOn: rpm === undefined ? undefined : rpm > 0,
    engineSpeedRpm: rpm,
    speedKmh: (fixed ? known(gps.speedKmh) : undefined) ?? known(record.engine?.wheelSpeedKmh),
    fuelPct: known(record.engine?.fuelLevelPct),
    timed: record.timeSource === "gnss",
  };
  if (fixed && gps.lat !== null && gps.lon !== null) reading.position = { lat: gps.lat, lon: gps.lon };
  return reading;
}
