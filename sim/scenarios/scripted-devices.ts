/**
 * A scripted scenario as a truck's devices (NMEA from the GNSS receiver, J1939 on the CAN bus) instead of finished
 * records, so that real agents read it from ptys (sim/devices with `timeScale`): the agent's own sources, state,
 * sampler and outbox make the records, and the detectors see what an agent really sends.
 *
 * The bus is thinned to what the records carry (EEC1, CCVS1, ET1, DD1 and DM1, each once per simulated second,
 * NMEA at 1 Hz simulated): at 60x a full-rate bus would be ~6000 frames per wall second per truck, more than a
 * shared 2-core test machine should spend on one truck. The bus is silent while the engine is off, as on a truck
 * (the agent then reports the ignition off): a fuel level that changes with the engine off (siphon, a refuel) is seen
 * only in the first DD1 after the next start, which is what the fuel-drop detector compares with the level at the
 * stop (pipelines/detect/fuel.ts).
 */
import type { J1939Dtc } from "../../protocol/index.ts";
import { j1939Frame, type TimedFrame } from "../j1939/frame.ts";
import { encodeCcvs1, encodeDd1, encodeDm1, encodeEec1, encodeEt1, PGN } from "../j1939/pgns.ts";
import type { TruckState } from "../model/state.ts";
import { nmeaSentences } from "../nmea/writer.ts";
import type { DeviceSim } from "../devices/device-fleet.ts";
import type { TruckOutput } from "../truck-sim.ts";
import type { Scenario } from "./scenarios.ts";

const EARTH_RADIUS_M = 6_371_000;
const PERIOD_MS = 1000;
const ENGINE_SA = 0;

export interface ScriptedDevicesOptions {
  /** GNSS time at the scenario's start, ms since the epoch. */
  startTimeMs: number;
  start: { lat: number; lon: number };
  fuelPct?: number;
}

export function createScriptedDevices(scenario: Scenario, options: ScriptedDevicesOptions): DeviceSim {
  let lat = options.start.lat;
  let lon = options.start.lon;
  let fuel = options.fuelPct ?? 60;
  let segmentIndex = 0;
  let segmentStartMs = 0;
  let segmentFuelFrom = fuel;
  let segmentEntered = false;
  let lastMs = 0;
  let nextMs = 0;
  const active = new Map<string, J1939Dtc>();
  const totalMs = scenario.segments.reduce((n, s) => n + s.minutes * 60_000, 0);

  const base: TruckState = {
    tMs: 0,
    timeMs: options.startTimeMs,
    phase: "idle",
    ignition: false,
    engineRunning: false,
    lat,
    lon,
    altM: 5,
    courseDeg: 0,
    speedKmh: 0,
    accelMps2: 0,
    gear: 0,
    engineSpeedRpm: 0,
    torquePct: 0,
    throttlePct: 0,
    brakeSwitch: false,
    parkingBrake: true,
    coolantTempC: 85,
    oilPressureKpa: 300,
    ambientTempC: 15,
    fuelLevelPct: fuel,
    fuelRateLph: 0,
    totalFuelL: 100_000,
    tripFuelL: 0,
    engineHours: 5_000,
    totalDistanceKm: 300_000,
    tripDistanceKm: 0,
    dtcs: [],
    gnss: { fix: "3d", sats: 10, prns: [1, 3, 6, 9, 12, 14, 17, 19, 22, 25], hdop: 0.9, vdop: 1.1, pdop: 1.4 },
  };
  let state = base;

  /** Moves the truck from lastMs to tMs (within segments) and returns the state at tMs. */
  function stateAt(tMs: number): TruckState {
    while (segmentIndex < scenario.segments.length) {
      const segment = scenario.segments[segmentIndex]!;
      const lengthMs = segment.minutes * 60_000;
      if (!segmentEntered) {
        segmentEntered = true;
        segmentFuelFrom = fuel;
        for (const c of segment.raise ?? []) active.set(`${c.spn}/${c.fmi}`, { ...c, oc: 1 });
        for (const c of segment.clear ?? []) active.delete(`${c.spn}/${c.fmi}`);
      }
      const endMs = segmentStartMs + lengthMs;
      const until = Math.min(tMs, endMs);
      const kmh = segment.kmh ?? 0;
      const heading = segment.headingDeg ?? 0;
      const metres = (kmh / 3.6) * (Math.max(0, until - lastMs) / 1000);
      const rad = (heading * Math.PI) / 180;
      lat += ((metres * Math.cos(rad)) / EARTH_RADIUS_M) * (180 / Math.PI);
      lon += ((metres * Math.sin(rad)) / (EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180))) * (180 / Math.PI);
      lastMs = Math.max(lastMs, until);
      const fuelTo = segment.fuelTo ?? segmentFuelFrom;
      fuel = segmentFuelFrom + ((fuelTo - segmentFuelFrom) * (until - segmentStartMs)) / lengthMs;
      const engine = segment.engine ?? kmh > 0;
      state = {
        ...base,
        tMs,
        timeMs: options.startTimeMs + tMs,
        phase: kmh > 0 ? "cruising" : engine ? "idle" : "parked",
        ignition: engine,
        engineRunning: engine,
        lat,
        lon,
        courseDeg: heading % 360,
        speedKmh: kmh,
        gear: kmh > 0 ? 10 : 0,
        engineSpeedRpm: engine ? (kmh > 0 ? 1400 : 650) : 0,
        parkingBrake: kmh === 0,
        fuelLevelPct: fuel,
        dtcs: [...active.values()],
      };
      if (tMs < endMs) break;
      segmentIndex++;
      segmentStartMs = endMs;
      segmentEntered = false;
    }
    return state;
  }

  return {
    state: () => state,
    advanceTo(tMs) {
      const nmea: TruckOutput["nmea"] = [];
      const can: TimedFrame[] = [];
      // After the script's end the truck stays as it was (parked): the devices go on, as a parked truck's do.
      for (; nextMs <= tMs; nextMs += PERIOD_MS) {
        const s = stateAt(Math.min(nextMs, totalMs));
        const at = { ...s, tMs: nextMs, timeMs: options.startTimeMs + nextMs };
        nmea.push({ tMs: nextMs, sentences: nmeaSentences(at) });
        if (!s.ignition) continue;
        for (const [pgn, priority, data] of [
          [PGN.EEC1, 3, encodeEec1(at)],
          [PGN.CCVS1, 6, encodeCcvs1(at)],
          [PGN.ET1, 6, encodeEt1(at)],
          [PGN.DD1, 6, encodeDd1(at)],
          // One code at most in the script, so DM1 fits one frame (no transport protocol needed).
          [PGN.DM1, 6, encodeDm1(at.dtcs.slice(0, 1))],
        ] as const) {
          can.push({ tMs: nextMs, frame: j1939Frame(priority, pgn, ENGINE_SA, data) });
        }
      }
      return { nmea, can, state };
    },
  };
}
