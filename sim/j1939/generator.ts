/**
 * Puts a truck's J1939 traffic on the bus at the rates real ECUs use (J1939-71 transmission rates): EEC1 every
 * 10-20 ms (engine-speed dependent in the standard; a fixed period per truck here), CCVS1 and LFE1 every 100 ms,
 * EFL/P1 every 500 ms, ET1, DD1, AMB, VDHR, HOURS, LFC1 and DM1 every second (HOURS and LFC1 are "on request" in
 * the standard; many engines broadcast them, and the agent must not poll). Each message starts at a per-truck
 * offset, so the frames of one truck, and of many trucks, do not all fall on the same millisecond.
 * The bus is silent while the ignition is off.
 */

import { createPrng } from "../model/prng.ts";
import type { TruckState } from "../model/state.ts";
import { type CanFrame, j1939Frame, type TimedFrame } from "./frame.ts";
import {
  encodeAmb,
  encodeCcvs1,
  encodeDd1,
  encodeDm1,
  encodeEec1,
  encodeEflp1,
  encodeEt1,
  encodeHours,
  encodeLfc1,
  encodeLfe1,
  encodeVd,
  encodeVdhr,
  PGN,
} from "./pgns.ts";
import { BAM_PACKET_GAP_MS, bamFrames } from "./transport.ts";
import { FleetError } from "../../common/errors.ts";

/**
 * What this ECU sends. engine: everything above, with the truck's trouble codes in its DM1. cluster (the instrument
 * cluster, SA 23 by J1939-81): the odometer the dashboard shows, VD and VDHR, which on real trucks differs from the
 * engine's own (an engine swapped or reflashed counts from its own zero), and an empty DM1. transmission (SA 3):
 * only its empty DM1. Several generators on one bus are what a real truck looks like to the agent.
 */
export type EcuRole = "engine" | "cluster" | "transmission";

export interface J1939GeneratorOptions {
  seed: string | number;
  role?: EcuRole;
  /** Source address (J1939-81: 0 engine #1, 3 transmission #1, 23 instrument cluster #1); default by role. */
  sourceAddress?: number;
  /** cluster: how far its odometer is ahead of the truck's (the engine's) total distance, km. */
  odometerOffsetKm?: number;
  /** EEC1 period in ms, 10..20; default: picked from the seed. */
  eec1PeriodMs?: number;
}

interface Schedule {
  name: string;
  pgn: number;
  priority: number;
  periodMs: number;
  encode(state: TruckState): Uint8Array;
  nextMs: number;
}

export interface J1939Generator {
  /**
   * Frames due after the previous call up to and including tMs, in time order, each encoded from `state` (the
   * caller steps the model in small increments, so the state is at most one step old).
   */
  framesUntil(state: TruckState, tMs: number): TimedFrame[];
  /** One frame of every single-frame PGN for this state (DM1 with at most one DTC): for decoder tests. */
  snapshot(state: TruckState): { name: string; frame: CanFrame }[];
}

export function createJ1939Generator(options: J1939GeneratorOptions): J1939Generator {
  const prng = createPrng(`${options.seed}/j1939`);
  const role = options.role ?? "engine";
  const sa = options.sourceAddress ?? { engine: 0, cluster: 23, transmission: 3 }[role];
  const eec1Period = options.eec1PeriodMs ?? prng.int(10, 20);
  if (eec1Period < 10 || eec1Period > 20) {
    throw new FleetError(
      "FLEET_CONFIG_INVALID",
      `J1939 generator option eec1PeriodMs must be 10..20, got ${eec1Period}`,
      {
        details: { field: "eec1PeriodMs" },
      },
    );
  }
  const dm1 = (s: TruckState) => encodeDm1(s.dtcs.slice(0, 1));
  const offset = options.odometerOffsetKm ?? 0;
  const dashboard = (s: TruckState): TruckState => ({ ...s, totalDistanceKm: s.totalDistanceKm + offset });
  const noCodes = (s: TruckState): TruckState => (s.dtcs.length === 0 ? s : { ...s, dtcs: [] });
  const tables: Record<EcuRole, Omit<Schedule, "nextMs">[]> = {
    engine: [],
    cluster: [
      { name: "VD", pgn: PGN.VD, priority: 6, periodMs: 1000, encode: (s) => encodeVd(dashboard(s)) },
      { name: "VDHR", pgn: PGN.VDHR, priority: 6, periodMs: 1000, encode: (s) => encodeVdhr(dashboard(s)) },
      { name: "DM1", pgn: PGN.DM1, priority: 6, periodMs: 1000, encode: () => encodeDm1([]) },
    ],
    transmission: [{ name: "DM1", pgn: PGN.DM1, priority: 6, periodMs: 1000, encode: () => encodeDm1([]) }],
  };
  tables.engine = [
    { name: "EEC1", pgn: PGN.EEC1, priority: 3, periodMs: eec1Period, encode: encodeEec1 },
    { name: "CCVS1", pgn: PGN.CCVS1, priority: 6, periodMs: 100, encode: encodeCcvs1 },
    { name: "LFE1", pgn: PGN.LFE1, priority: 6, periodMs: 100, encode: encodeLfe1 },
    { name: "EFL/P1", pgn: PGN.EFLP1, priority: 6, periodMs: 500, encode: encodeEflp1 },
    { name: "ET1", pgn: PGN.ET1, priority: 6, periodMs: 1000, encode: encodeEt1 },
    { name: "DD1", pgn: PGN.DD1, priority: 6, periodMs: 1000, encode: encodeDd1 },
    { name: "AMB", pgn: PGN.AMB, priority: 6, periodMs: 1000, encode: encodeAmb },
    { name: "VDHR", pgn: PGN.VDHR, priority: 6, periodMs: 1000, encode: encodeVdhr },
    { name: "HOURS", pgn: PGN.HOURS, priority: 6, periodMs: 1000, encode: encodeHours },
    { name: "LFC1", pgn: PGN.LFC1, priority: 6, periodMs: 1000, encode: encodeLfc1 },
    { name: "DM1", pgn: PGN.DM1, priority: 6, periodMs: 1000, encode: dm1 },
  ];
  const schedules: Schedule[] = tables[role].map((t) => ({ ...t, nextMs: prng.int(0, t.periodMs - 1) }));
  // Transport packets scheduled ahead of time; at most one BAM session is open at a time (J1939-21 §5.10.3.3).
  let pendingTp: TimedFrame[] = [];
  let lastMs = -1;

  function emitDm1(state: TruckState, atMs: number, out: TimedFrame[]): void {
    if (state.dtcs.length <= 1) {
      out.push({ tMs: atMs, frame: j1939Frame(6, PGN.DM1, sa, encodeDm1(state.dtcs)) });
      return;
    }
    while (pendingTp.length > 0 && pendingTp[0]!.tMs <= atMs) out.push(pendingTp.shift()!);
    if (pendingTp.length > 0) return; // previous session still sending: skip this cycle, as ECUs do
    const frames = bamFrames(PGN.DM1, encodeDm1(state.dtcs), sa);
    frames.forEach((frame, i) => {
      pendingTp.push({ tMs: atMs + i * BAM_PACKET_GAP_MS, frame });
    });
  }

  return {
    framesUntil(state, tMs) {
      const out: TimedFrame[] = [];
      if (!state.ignition) {
        // Silent bus: restart every schedule from now when the ignition comes back.
        for (const s of schedules) s.nextMs = Math.max(s.nextMs, tMs + 1);
        pendingTp = [];
        lastMs = tMs;
        return out;
      }
      for (const s of schedules) {
        while (s.nextMs <= tMs) {
          if (s.nextMs > lastMs) {
            if (s.pgn === PGN.DM1) emitDm1(role === "engine" ? state : noCodes(state), s.nextMs, out);
            else out.push({ tMs: s.nextMs, frame: j1939Frame(s.priority, s.pgn, sa, s.encode(state)) });
          }
          s.nextMs += s.periodMs;
        }
      }
      while (pendingTp.length > 0 && pendingTp[0]!.tMs <= tMs) out.push(pendingTp.shift()!);
      lastMs = tMs;
      return out.sort((a, b) => a.tMs - b.tMs);
    },
    snapshot(state) {
      return schedules.map((s) => ({ name: s.name, frame: j1939Frame(s.priority, s.pgn, sa, s.encode(state)) }));
    },
  };
}
