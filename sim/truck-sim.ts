/**
 * One simulated truck with its devices: the vehicle model, a GNSS receiver writing NMEA at 1-10 Hz and the J1939
 * bus. advanceTo() steps the model in 10 ms increments (the shortest J1939 period) and returns what the devices
 * sent meanwhile, stamped with simulation time, so device mode, load mode and tests share one source of truth.
 */

import type { TimedFrame } from "./j1939/frame.ts";
import { createJ1939Generator, type J1939Generator } from "./j1939/generator.ts";
import type { TruckModelOptions } from "./model/config.ts";
import type { TruckState } from "./model/state.ts";
import { createTruckModel, type TruckModel } from "./model/truck.ts";
import { nmeaSentences, type Talker } from "./nmea/writer.ts";
import { FleetError } from "../common/errors.ts";

export interface TruckSimOptions extends TruckModelOptions {
  /** GNSS epochs per second, 1..10. */
  nmeaHz?: number;
  talker?: Talker;
  eec1PeriodMs?: number;
  /**
   * engine: one ECU (the engine, SA 0) sends everything. multi: as on most real trucks, the instrument cluster
   * (SA 23) also sends the odometer, 7.5 km ahead of the engine's, and an empty DM1, and the transmission (SA 3)
   * an empty DM1 (generator.ts).
   */
  ecus?: "engine" | "multi";
}

export interface NmeaEpoch {
  tMs: number;
  sentences: string[];
}

export interface TruckOutput {
  nmea: NmeaEpoch[];
  can: TimedFrame[];
  /** The state at the end of the advance. */
  state: TruckState;
}

export interface TruckSim {
  readonly model: TruckModel;
  /** Advances to simulation time tMs (no-op if already there). */
  advanceTo(tMs: number): TruckOutput;
  state(): TruckState;
}

export const STEP_MS = 10;

export function createTruckSim(options: TruckSimOptions): TruckSim {
  const { nmeaHz = 1, talker, eec1PeriodMs, ecus = "engine", ...modelOptions } = options;
  if (!Number.isInteger(nmeaHz) || nmeaHz < 1 || nmeaHz > 10) {
    // Reached from `fleetsync sim --nmea-hz`: a configuration error naming the option, not a RangeError.
    throw new FleetError("FLEET_CONFIG_INVALID", `sim option nmeaHz must be an integer 1..10, got ${nmeaHz}`, {
      details: { field: "nmeaHz" },
    });
  }
  const model = createTruckModel(modelOptions);
  const buses: J1939Generator[] = [
    createJ1939Generator({ seed: model.config.seed, ...(eec1PeriodMs === undefined ? {} : { eec1PeriodMs }) }),
  ];
  if (ecus === "multi") {
    buses.push(
      createJ1939Generator({ seed: `${model.config.seed}/cluster`, role: "cluster", odometerOffsetKm: 7.5 }),
      createJ1939Generator({ seed: `${model.config.seed}/transmission`, role: "transmission" }),
    );
  }
  const nmeaPeriod = 1000 / nmeaHz;
  // Receivers report on the whole second (and its fractions): the first epoch is the first boundary after start.
  let nextNmeaMs = nmeaPeriod - (model.config.startTimeMs % nmeaPeriod);
  let state = model.state();

  return {
    model,
    state: () => state,
    advanceTo(tMs) {
      const nmea: NmeaEpoch[] = [];
      const can: TimedFrame[] = [];
      while (state.tMs + STEP_MS <= tMs + 1e-9) {
        state = model.step(STEP_MS);
        if (state.tMs + 1e-9 >= nextNmeaMs) {
          nmea.push({ tMs: state.tMs, sentences: nmeaSentences(state, talker === undefined ? {} : { talker }) });
          nextNmeaMs += nmeaPeriod;
        }
        for (const j1939 of buses) for (const f of j1939.framesUntil(state, state.tMs)) can.push(f);
      }
      return { nmea, can, state };
    },
  };
}
