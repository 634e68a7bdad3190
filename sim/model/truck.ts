/**
 * createTruckModel: one simulated truck that drives an endless, seeded route (pull away, cruise, brake for stops,
 * turn, park with the ignition off) and keeps every engine quantity consistent with the motion: engine speed from
 * gear and road speed, fuel used from the power at the wheels, odometer and engine hours from the same integration.
 */
import { parseTruckModelOptions, type TruckModelConfig, type TruckModelOptions } from "./config.ts";
import { createFaultProcess } from "./faults.ts";
import {
  engineRpm,
  fuelRateLph,
  IDLE_RPM,
  maxAccelMps2,
  nextGear,
  torquePercent,
  tractiveForceN,
} from "./powertrain.ts";
import { createPrng } from "./prng.ts";
import { type Leg, nextLeg, TURN_SPEED_MPS } from "./route.ts";
import type { GnssState, TruckState } from "./state.ts";

export interface TruckModel {
  readonly config: TruckModelConfig;
  /** Advances the simulation by dtMs (any size: it integrates in slices of at most 100 ms) and returns a copy. */
  step(dtMs: number): TruckState;
  /** A copy of the current state. */
  state(): TruckState;
}

const EARTH_RADIUS_M = 6_371_000;
const MAX_SLICE_S = 0.1;
/** Service brake below this acceleration; gentler slowing is engine braking alone. */
const BRAKE_SWITCH_MPS2 = -0.35;
/** Comfortable deceleration a driver plans a stop with. */
const PLANNED_DECEL_MPS2 = 1.0;
const TURN_RADIUS_M = 15;
const IDLE_BEFORE_PULLING_AWAY_S = 3;
const SETTLE_BEFORE_IGNITION_OFF_S = 2;

const round1 = (v: number) => Math.round(v * 10) / 10;

function headingError(from: number, to: number): number {
  return ((to - from + 540) % 360) - 180;
}

export function createTruckModel(options: TruckModelOptions): TruckModel {
  const config = parseTruckModelOptions(options);
  const prng = createPrng(config.seed);
  const faults = createFaultProcess(createPrng(`${config.seed}/faults`), config.faultsPerHour, config.faults);
  const allPrns = Array.from({ length: 32 }, (_, i) => i + 1).sort(() => prng.next() - 0.5);
  const ambientBase = prng.range(4, 28);
  const altBase = prng.range(-2, 40);
  const odometerKm = prng.range(80_000, 900_000);
  let tankLitres = config.tankL * prng.range(0.45, 0.95);

  const s: TruckState = {
    tMs: 0,
    timeMs: config.startTimeMs,
    phase: config.startParked ? "parked" : "idle",
    ignition: !config.startParked,
    engineRunning: !config.startParked,
    lat: config.startLat ?? 51.92 + prng.range(-0.05, 0.05),
    lon: config.startLon ?? 4.48 + prng.range(-0.08, 0.08),
    altM: altBase,
    courseDeg: prng.range(0, 360),
    speedKmh: 0,
    accelMps2: 0,
    gear: 0,
    engineSpeedRpm: config.startParked ? 0 : IDLE_RPM,
    torquePct: 0,
    throttlePct: 0,
    brakeSwitch: false,
    parkingBrake: true,
    coolantTempC: prng.chance(0.5) ? prng.range(78, 86) : ambientBase,
    oilPressureKpa: 0,
    ambientTempC: ambientBase,
    fuelLevelPct: (tankLitres / config.tankL) * 100,
    fuelRateLph: 0,
    totalFuelL: odometerKm * 0.32,
    tripFuelL: 0,
    engineHours: odometerKm / 52,
    totalDistanceKm: odometerKm,
    tripDistanceKm: 0,
    dtcs: faults.list(),
    gnss: { fix: "3d", sats: 0, prns: [], hdop: 0, vdop: 0, pdop: 0 },
  };
  let speedMps = 0;
  let leg: Leg = nextLeg(prng, config, s.courseDeg, false);
  let legTravelledM = 0;
  let waitS = config.startParked ? prng.range(config.parkS[0], config.parkS[1]) : IDLE_BEFORE_PULLING_AWAY_S;
  let parkAfterStop = false;
  let nextGnssChangeS = 0;
  let routeM = 0;
  setGnss(prng.int(8, 12));

  function setGnss(sats: number): void {
    const hdop = round1(0.5 + 5 / sats);
    const gnss: GnssState = {
      fix: "3d",
      sats,
      prns: allPrns.slice(0, sats),
      hdop,
      vdop: round1(hdop * 1.4),
      pdop: round1(hdop * 1.7),
    };
    s.gnss = gnss;
  }

  function altitudeAt(m: number): number {
    return altBase + 15 * Math.sin(m / 1500) + 4 * Math.sin(m / 370);
  }

  function driverAccel(dtS: number): number {
    const err = headingError(s.courseDeg, leg.headingDeg);
    const turning = Math.abs(err) > 5;
    let target = leg.cruiseMps * (1 + 0.03 * Math.sin(s.tMs / 20_000));
    if (turning) target = Math.min(target, TURN_SPEED_MPS);
    const endMps = leg.end === "turn" ? TURN_SPEED_MPS : 0;
    const remaining = Math.max(leg.lengthM - legTravelledM, 0.1);
    const needed = (speedMps * speedMps - endMps * endMps) / (2 * remaining);
    if (speedMps > endMps && needed >= PLANNED_DECEL_MPS2) return -Math.min(needed, 3);
    if (speedMps < target - 0.3) return Math.min(0.8, Math.max(0, (target - speedMps) / dtS));
    if (speedMps > target + 0.3) return -0.3;
    return (target - speedMps) * 0.5;
  }

  function steer(dtS: number): void {
    const err = headingError(s.courseDeg, leg.headingDeg);
    const maxTurn = Math.min(25, ((speedMps / TURN_RADIUS_M) * 180) / Math.PI) * dtS;
    const turn = Math.max(-maxTurn, Math.min(maxTurn, err));
    s.courseDeg = (((s.courseDeg + turn) % 360) + 360) % 360;
  }

  function drive(dtS: number): number {
    let accel = driverAccel(dtS);
    const accelerating = accel > 0.05;
    s.gear = nextGear(s.gear, speedMps, accelerating);
    const grade = (altitudeAt(routeM + 1) - altitudeAt(routeM)) / 1;
    if (accel > 0) accel = Math.min(accel, Math.max(0, maxAccelMps2(config.massKg, speedMps, s.gear, grade)));
    const before = speedMps;
    speedMps = Math.max(0, speedMps + accel * dtS);
    steer(dtS);
    const travelled = ((before + speedMps) / 2) * dtS;
    legTravelledM += travelled;
    routeM += travelled;
    const force = tractiveForceN(config.massKg, speedMps, accel, grade);
    s.accelMps2 = accel;
    s.engineSpeedRpm = engineRpm(s.gear, speedMps, accelerating);
    s.torquePct = torquePercent(force, s.gear, true);
    s.throttlePct = accel > 0 ? Math.min(100, Math.max(0, s.torquePct * 1.1)) : 0;
    s.fuelRateLph = fuelRateLph(force, speedMps, true);
    s.brakeSwitch = accel < BRAKE_SWITCH_MPS2;
    s.parkingBrake = false;
    const turning = Math.abs(headingError(s.courseDeg, leg.headingDeg)) > 5;
    s.phase = s.brakeSwitch ? "braking" : turning ? "turning" : accelerating ? "accelerating" : "cruising";

    const atEnd = legTravelledM >= leg.lengthM;
    if (leg.end === "turn" && atEnd) {
      leg = nextLeg(prng, config, leg.headingDeg, true);
      legTravelledM = 0;
    } else if (leg.end !== "turn" && (atEnd || (speedMps < 0.3 && leg.lengthM - legTravelledM < 3))) {
      speedMps = 0;
      s.gear = 0;
      s.engineSpeedRpm = IDLE_RPM;
      s.phase = "stopped";
      s.brakeSwitch = true;
      parkAfterStop = leg.end === "park";
      waitS = parkAfterStop ? SETTLE_BEFORE_IGNITION_OFF_S : prng.range(config.stopS[0], config.stopS[1]);
    }
    return travelled;
  }

  function standStill(dtS: number): void {
    speedMps = 0;
    s.accelMps2 = 0;
    s.gear = 0;
    s.throttlePct = 0;
    waitS -= dtS;
    if (s.phase === "parked") {
      s.engineSpeedRpm = 0;
      s.torquePct = 0;
      s.fuelRateLph = 0;
      s.brakeSwitch = false;
      if (waitS > 0) return;
      if (tankLitres < config.tankL * 0.15) tankLitres = config.tankL * 0.95;
      s.ignition = true;
      s.engineRunning = true;
      s.phase = "idle";
      waitS = IDLE_BEFORE_PULLING_AWAY_S;
    }
    s.engineSpeedRpm = IDLE_RPM;
    s.torquePct = torquePercent(0, 0, true);
    s.fuelRateLph = fuelRateLph(0, 0, true);
    if (waitS > 0) return;
    if (parkAfterStop) {
      parkAfterStop = false;
      s.phase = "parked";
      s.ignition = false;
      s.engineRunning = false;
      s.parkingBrake = true;
      s.brakeSwitch = false;
      s.engineSpeedRpm = 0;
      s.fuelRateLph = 0;
      waitS = prng.range(config.parkS[0], config.parkS[1]);
      return;
    }
    leg = nextLeg(prng, config, leg.headingDeg, false);
    legTravelledM = 0;
    s.phase = "accelerating";
    s.brakeSwitch = false;
  }

  function slice(dtS: number): void {
    s.tMs += dtS * 1000;
    s.timeMs = config.startTimeMs + Math.round(s.tMs);
    let travelled = 0;
    if (s.phase === "parked" || s.phase === "idle" || s.phase === "stopped") standStill(dtS);
    else travelled = drive(dtS);

    const headingRad = (s.courseDeg * Math.PI) / 180;
    s.lat += ((travelled * Math.cos(headingRad)) / EARTH_RADIUS_M) * (180 / Math.PI);
    s.lon +=
      ((travelled * Math.sin(headingRad)) / (EARTH_RADIUS_M * Math.cos((s.lat * Math.PI) / 180))) * (180 / Math.PI);
    s.altM = altitudeAt(routeM);
    s.speedKmh = speedMps * 3.6;
    s.totalDistanceKm += travelled / 1000;
    s.tripDistanceKm += travelled / 1000;

    const used = (s.fuelRateLph * dtS) / 3600;
    tankLitres = Math.max(0, tankLitres - used);
    s.totalFuelL += used;
    s.tripFuelL += used;
    s.fuelLevelPct = (tankLitres / config.tankL) * 100;
    if (s.engineRunning) s.engineHours += dtS / 3600;

    faults.step(dtS);
    s.dtcs = faults.list();
    const coolantTarget = !s.engineRunning
      ? s.ambientTempC
      : faults.has(110, 0)
        ? 108
        : 82 + Math.max(0, s.torquePct) * 0.06;
    s.coolantTempC += (coolantTarget - s.coolantTempC) * Math.min(1, dtS / (s.engineRunning ? 240 : 1800));
    s.oilPressureKpa = s.engineRunning ? (120 + 0.17 * s.engineSpeedRpm) * (faults.has(100, 1) ? 0.4 : 1) : 0;
    s.ambientTempC = ambientBase + 1.5 * Math.sin(s.tMs / 600_000);

    if (s.tMs / 1000 >= nextGnssChangeS) {
      nextGnssChangeS = s.tMs / 1000 + 10;
      setGnss(Math.max(6, Math.min(14, s.gnss.sats + prng.int(-1, 1))));
    }
  }

  const snapshot = (): TruckState => ({
    ...s,
    dtcs: s.dtcs.map((d) => ({ ...d })),
    gnss: { ...s.gnss, prns: [...s.gnss.prns] },
  });

  return {
    config,
    step(dtMs: number): TruckState {
      if (!(dtMs >= 0)) throw new RangeError(`step: dtMs must be >= 0, got ${dtMs}`);
      let left = dtMs / 1000;
      while (left > 1e-9) {
        const dt = Math.min(MAX_SLICE_S, left);
        slice(dt);
        left -= dt;
      }
      return snapshot();
    },
    state: snapshot,
  };
}
