/**
 * A protocol TelemetryRecord from a simulated state, rounded to the record's stated resolutions (records.ts), so
 * the codec accepts it and it survives encode -> decode unchanged. Load mode publishes these directly.
 */
import { roundTo, type TelemetryRecord } from "../protocol/index.ts";
import type { TruckState } from "./model/state.ts";

export interface RecordIds {
  truckId: string;
  stream: string;
  seq: number;
}

const clamp = (v: number, min: number, max: number) => Math.max(min, Math.min(max, v));

export function telemetryRecord(state: TruckState, ids: RecordIds): TelemetryRecord {
  const record: TelemetryRecord = {
    truckId: ids.truckId,
    stream: ids.stream,
    seq: ids.seq,
    ts: new Date(state.timeMs).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: state.gnss.fix,
      lat: roundTo(state.lat, 7),
      lon: roundTo(state.lon, 7),
      altM: roundTo(state.altM, 1),
      speedKmh: roundTo(state.speedKmh, 1),
      courseDeg: roundTo(Math.min(state.courseDeg, 359.9), 1),
      sats: state.gnss.sats,
      hdop: roundTo(state.gnss.hdop, 1),
    },
  };
  if (state.ignition) {
    record.engine = {
      engineSpeedRpm: Math.round(state.engineSpeedRpm),
      torquePct: clamp(Math.round(state.torquePct), -125, 125),
      wheelSpeedKmh: roundTo(clamp(state.speedKmh, 0, 251), 1),
      brakeSwitch: state.brakeSwitch,
      parkingBrake: state.parkingBrake,
      coolantTempC: clamp(Math.round(state.coolantTempC), -40, 210),
      fuelRateLph: roundTo(state.fuelRateLph, 2),
      fuelLevelPct: roundTo(clamp(state.fuelLevelPct, 0, 100), 1),
      engineHours: roundTo(state.engineHours, 2),
      totalDistanceKm: roundTo(state.totalDistanceKm, 3),
      totalFuelL: roundTo(state.totalFuelL, 1),
      oilPressureKpa: clamp(Math.round(state.oilPressureKpa), 0, 1000),
      ambientTempC: roundTo(state.ambientTempC, 1),
    };
    if (state.dtcs.length > 0) record.dtcs = state.dtcs.slice(0, 64).map((d) => ({ ...d }));
  }
  return record;
}
