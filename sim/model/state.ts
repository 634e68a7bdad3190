import type { J1939Dtc } from "../../protocol/index.ts";

/** What the driver is doing; the sim reports it so tests and the demo can see stops, turns and parking happen. */
export type Phase = "parked" | "idle" | "accelerating" | "cruising" | "braking" | "turning" | "stopped";

/** The receiver's view of the sky: enough for GGA and GSA. */
export interface GnssState {
  fix: "none" | "2d" | "3d";
  sats: number;
  /** PRNs of the satellites used, for GSA (at most 12 are listed there). */
  prns: number[];
  hdop: number;
  vdop: number;
  pdop: number;
}

/**
 * One instant of a simulated truck, in physical units at full precision. The NMEA writer, the J1939 encoders and
 * the record builder each quantise it their own way, exactly as a real GPS receiver and ECU would.
 */
export interface TruckState {
  /** Simulation time since the start, ms. */
  tMs: number;
  /** GNSS UTC time, ms since the epoch. */
  timeMs: number;
  phase: Phase;
  ignition: boolean;
  engineRunning: boolean;
  lat: number;
  lon: number;
  altM: number;
  /** Course over ground, degrees from true north, [0, 360). */
  courseDeg: number;
  /** Road speed: the GPS speed over ground and the wheel-based speed are both this value. */
  speedKmh: number;
  accelMps2: number;
  /** 0 = neutral, 1..12. */
  gear: number;
  engineSpeedRpm: number;
  torquePct: number;
  throttlePct: number;
  brakeSwitch: boolean;
  parkingBrake: boolean;
  coolantTempC: number;
  oilPressureKpa: number;
  ambientTempC: number;
  fuelLevelPct: number;
  fuelRateLph: number;
  totalFuelL: number;
  tripFuelL: number;
  engineHours: number;
  totalDistanceKm: number;
  tripDistanceKm: number;
  /** Active trouble codes (DM1). */
  dtcs: J1939Dtc[];
  gnss: GnssState;
}
