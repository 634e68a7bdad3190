/**
 * A realistic 1 Hz truck drive for the wire benchmark: a 40 t articulated truck leaves the depot, idles while the
 * engine warms, drives through town (traffic lights, turns, gear changes), joins the motorway and cruises, leaves
 * it, and parks. Signals are quantised the way the bus and receiver deliver them (J1939-71 resolutions, GNSS
 * noise), then rounded to the record resolutions of protocol/records.ts. Deterministic (seeded), so figures are
 * comparable run to run.
 */
import { roundTo, type TelemetryRecord } from "../../protocol/records.ts";

/** Mulberry32: a tiny seeded PRNG, so every run drives the same truck. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Leg =
  | { kind: "idle"; seconds: number; parkingBrake: boolean }
  | { kind: "drive"; seconds: number; targetKmh: number; turnDeg?: number };

/** Town with lights and turns, then motorway, then town again. About 62 minutes. */
const ROUTE: Leg[] = [
  { kind: "idle", seconds: 240, parkingBrake: true },
  { kind: "drive", seconds: 90, targetKmh: 30, turnDeg: 90 },
  { kind: "drive", seconds: 120, targetKmh: 50 },
  { kind: "idle", seconds: 45, parkingBrake: false },
  { kind: "drive", seconds: 150, targetKmh: 50, turnDeg: -90 },
  { kind: "idle", seconds: 30, parkingBrake: false },
  { kind: "drive", seconds: 100, targetKmh: 40, turnDeg: 45 },
  { kind: "drive", seconds: 180, targetKmh: 70 },
  { kind: "drive", seconds: 1500, targetKmh: 85, turnDeg: 20 },
  { kind: "drive", seconds: 300, targetKmh: 80, turnDeg: -35 },
  { kind: "drive", seconds: 120, targetKmh: 50, turnDeg: 90 },
  { kind: "idle", seconds: 60, parkingBrake: false },
  { kind: "drive", seconds: 200, targetKmh: 45, turnDeg: -90 },
  { kind: "drive", seconds: 80, targetKmh: 20, turnDeg: 180 },
  { kind: "idle", seconds: 300, parkingBrake: true },
];

const GEAR_RATIOS = [14.9, 11.7, 9.1, 7.1, 5.6, 4.4, 3.5, 2.7, 2.1, 1.7, 1.3, 1.0];
const AXLE_RATIO = 2.85;
const WHEEL_CIRCUMFERENCE_M = 3.3;

/** Quantises to a J1939 bit resolution (e.g. 0.125 rpm), then to the record's decimals. */
function bus(value: number, resolution: number, decimals: number): number {
  return roundTo(Math.round(value / resolution) * resolution, decimals);
}

export interface DriveOptions {
  truckId?: string;
  stream?: string;
  seed?: number;
  startTs?: string;
  firstSeq?: number;
}

export function simulateDrive(options: DriveOptions = {}): TelemetryRecord[] {
  const random = prng(options.seed ?? 42);
  const noise = (sd: number) => (random() + random() + random() - 1.5) * sd * 2;
  const truckId = options.truckId ?? "TRK-0042";
  const stream = options.stream ?? "5f2c9a0e13b7d846";
  let ts = Date.parse(options.startTs ?? "2026-03-14T06:10:00.000Z");
  let seq = options.firstSeq ?? 1_234_567;

  // Truck state.
  let lat = 48.1372314;
  let lon = 11.5754925;
  let alt = 519;
  let heading = 63;
  let speed = 0; // m/s
  let coolant = 31;
  let fuelLevel = 71.2;
  let engineHours = 12873.35;
  let distanceKm = 487_213.455;
  let fuelUsedL = 163_422.5;
  let ambient = 6.4;
  let hdop = 0.9;
  let sats = 10;
  let gpsLat = lat;
  let gpsLon = lon;
  let lastCourse = heading;
  const dtcs: { spn: number; fmi: number; oc: number }[] = [];
  const records: TelemetryRecord[] = [];

  for (const leg of ROUTE) {
    const turnPerSecond = leg.kind === "drive" && leg.turnDeg ? leg.turnDeg / Math.min(25, leg.seconds / 3) : 0;
    for (let t = 0; t < leg.seconds; t++) {
      const target = leg.kind === "drive" ? leg.targetKmh / 3.6 : 0;
      const braking = leg.kind === "drive" ? t > leg.seconds - 15 : speed > 0;
      const goal = braking ? 0 : target;
      // Trucks accelerate at ~0.5 m/s^2 when loaded and brake at ~1.2 m/s^2; cruise control wobbles a little.
      const accel =
        Math.max(-1.2, Math.min(0.5, goal - speed)) + (goal > 0 && Math.abs(goal - speed) < 1 ? noise(0.08) : 0);
      speed = Math.max(0, speed + accel);
      if (leg.kind === "drive" && t >= leg.seconds / 3 && t < leg.seconds / 3 + Math.min(25, leg.seconds / 3)) {
        heading = (heading + turnPerSecond + 360) % 360;
      }
      heading = (heading + noise(0.15) * (speed > 1 ? 1 : 0) + 360) % 360;
      const metres = speed;
      lat += (metres * Math.cos((heading * Math.PI) / 180)) / 111_320;
      lon += (metres * Math.sin((heading * Math.PI) / 180)) / (111_320 * Math.cos((lat * Math.PI) / 180));
      alt += speed * 0.012 * Math.sin(ts / 200_000) + noise(0.05);
      // GNSS error is a slow random walk, not white noise.
      gpsLat += (lat - gpsLat) * 0.5 + noise(0.25) / 111_320;
      gpsLon += (lon - gpsLon) * 0.5 + noise(0.25) / 75_000;
      if (random() < 0.01) sats = Math.max(6, Math.min(14, sats + (random() < 0.5 ? -1 : 1)));
      if (random() < 0.02) hdop = Math.max(0.6, Math.min(2.5, hdop + (random() < 0.5 ? -0.1 : 0.1)));

      // Drivetrain: pick the gear that keeps the engine in its band.
      const wheelRps = speed / WHEEL_CIRCUMFERENCE_M;
      const gear =
        speed < 0.5 ? 0 : Math.max(1, GEAR_RATIOS.findIndex((g) => wheelRps * g * AXLE_RATIO * 60 < 1500) + 1 || 12);
      const rpm = gear === 0 ? 600 + noise(6) : wheelRps * GEAR_RATIOS[gear - 1]! * AXLE_RATIO * 60 + noise(8);
      const torque = gear === 0 ? 8 + noise(1) : Math.max(-20, Math.min(100, accel * 90 + 30 + noise(3)));
      const fuelRate = gear === 0 ? 2.6 + noise(0.1) : Math.max(0, (rpm * Math.max(torque, 0)) / 2400 + noise(0.4));
      coolant = Math.min(88 + (random() < 0.05 ? 1 : 0), coolant + 0.12);
      fuelLevel -= fuelRate / 3600 / 6;
      engineHours += 1 / 3600;
      distanceKm += speed / 1000;
      fuelUsedL += fuelRate / 3600;
      ambient += noise(0.01);
      if (seq % 1700 === 0 && dtcs.length === 0) dtcs.push({ spn: 3216, fmi: 4, oc: 1 });
      else if (seq % 1700 === 600) dtcs.length = 0;

      const courseDeg = speed > 0.8 ? roundTo((((heading + noise(0.3)) % 360) + 360) % 360, 1) % 360 : lastCourse;
      lastCourse = courseDeg;
      records.push({
        truckId,
        stream,
        seq: seq++,
        ts: new Date(ts).toISOString(),
        timeSource: "gnss",
        gps: {
          fix: "3d",
          lat: roundTo(gpsLat, 7),
          lon: roundTo(gpsLon, 7),
          altM: roundTo(alt, 1),
          speedKmh: roundTo(Math.max(0, speed * 3.6 + (speed > 0 ? noise(0.2) : 0)), 1),
          courseDeg: Math.min(courseDeg, 359.9),
          sats,
          hdop: roundTo(hdop, 1),
        },
        engine: {
          engineSpeedRpm: Math.round(bus(rpm, 0.125, 3)), // SPN 190: 0.125 rpm/bit
          torquePct: Math.round(torque), // SPN 513: 1 %/bit, offset -125
          wheelSpeedKmh: bus(speed * 3.6 * 1.015, 1 / 256, 1), // SPN 84: 1/256 km/h per bit
          brakeSwitch: braking && speed > 0,
          parkingBrake: leg.kind === "idle" && leg.parkingBrake,
          coolantTempC: Math.round(coolant), // SPN 110: 1 degC/bit
          fuelRateLph: bus(fuelRate, 0.05, 2), // SPN 183: 0.05 L/h per bit
          fuelLevelPct: bus(fuelLevel, 0.4, 1), // SPN 96: 0.4 %/bit
          engineHours: bus(engineHours, 0.05, 2), // SPN 247: 0.05 h/bit
          totalDistanceKm: bus(distanceKm, 0.005, 3), // SPN 917: 5 m/bit
          totalFuelL: bus(fuelUsedL, 0.5, 1), // SPN 250: 0.5 L/bit
          oilPressureKpa: Math.round(bus(gear === 0 ? 180 : 250 + rpm / 10, 4, 0)), // SPN 100: 4 kPa/bit
          ambientTempC: bus(ambient, 0.03125, 1), // SPN 171: 0.03125 degC/bit
        },
        dtcs: dtcs.map((d) => ({ ...d })),
      });
      ts += 1000;
    }
  }
  return records;
}
