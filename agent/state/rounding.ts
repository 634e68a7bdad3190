/**
 * Fitting source values into the record: round to the resolution the wire codec carries (protocol/records.ts
 * states it per field) and refuse values outside the field's range (null = "not available", never a clamped
 * number that looks real). The table mirrors records.ts; rounding.test.ts checks every entry against the schema,
 * so the two cannot drift silently.
 */
import { type Engine, type Gps, roundTo } from "../../protocol/index.ts";
import type { GpsFix } from "../decoders/types.ts";

interface NumberSpec {
  decimals: number;
  min: number;
  max: number;
}

export const ENGINE_SPECS: Record<Exclude<keyof Engine, "brakeSwitch" | "parkingBrake">, NumberSpec> = {
  engineSpeedRpm: { decimals: 0, min: 0, max: 8032 },
  torquePct: { decimals: 0, min: -125, max: 125 },
  wheelSpeedKmh: { decimals: 1, min: 0, max: 251 },
  coolantTempC: { decimals: 0, min: -40, max: 210 },
  fuelRateLph: { decimals: 2, min: 0, max: 3212.75 },
  fuelLevelPct: { decimals: 1, min: 0, max: 100 },
  engineHours: { decimals: 2, min: 0, max: 210554060.75 },
  runTimeS: { decimals: 0, min: 0, max: 65535 },
  totalDistanceKm: { decimals: 3, min: 0, max: 21055406 },
  totalFuelL: { decimals: 1, min: 0, max: 2105540608 },
  oilPressureKpa: { decimals: 0, min: 0, max: 1000 },
  ambientTempC: { decimals: 1, min: -273, max: 1735 },
};

export const GPS_SPECS: Record<Exclude<keyof Gps, "fix">, NumberSpec> = {
  lat: { decimals: 7, min: -90, max: 90 },
  lon: { decimals: 7, min: -180, max: 180 },
  altM: { decimals: 1, min: -1000, max: 20000 },
  speedKmh: { decimals: 1, min: 0, max: 400 },
  courseDeg: { decimals: 1, min: 0, max: 359.9 },
  sats: { decimals: 0, min: 0, max: 255 },
  hdop: { decimals: 1, min: 0, max: 99.9 },
};

export function fitToSpec(value: number | null | undefined, spec: NumberSpec): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const rounded = roundTo(value, spec.decimals);
  // -0 would survive JSON as 0 but not Object.is comparisons in tests; normalise it.
  const v = rounded === 0 ? 0 : rounded;
  return v >= spec.min && v <= spec.max ? v : null;
}

export function toGps(fix: GpsFix): Gps {
  // A course of 359.96 rounds to 360.0, which is 0.0 on the compass.
  const course = fix.courseDeg === null ? null : fitToSpec(fix.courseDeg, { ...GPS_SPECS.courseDeg, max: 360 });
  return {
    fix: fix.fix,
    lat: fitToSpec(fix.lat, GPS_SPECS.lat),
    lon: fitToSpec(fix.lon, GPS_SPECS.lon),
    altM: fitToSpec(fix.altM, GPS_SPECS.altM),
    speedKmh: fitToSpec(fix.speedKmh, GPS_SPECS.speedKmh),
    courseDeg: course === 360 ? 0 : course,
    sats: fitToSpec(fix.sats, GPS_SPECS.sats),
    hdop: fitToSpec(fix.hdop, GPS_SPECS.hdop),
  };
}

export function toEngineValue(key: string, value: number | boolean | null): number | boolean | null {
  if (typeof value === "boolean" || value === null) return value;
  const spec = ENGINE_SPECS[key as keyof typeof ENGINE_SPECS];
  return spec ? fitToSpec(value, spec) : null;
}
