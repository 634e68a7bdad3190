import type { TruckModelConfig } from "./config.ts";
import type { Prng } from "./prng.ts";

/** How a leg ends: a stop (traffic light, delivery), a turn onto the next leg, or parking with the ignition off. */
export type LegEnd = "stop" | "turn" | "park";

export interface Leg {
  lengthM: number;
  cruiseMps: number;
  /** Heading the truck steers towards on this leg. */
  headingDeg: number;
  end: LegEnd;
}

/** Speed through a turn, m/s (about 20 km/h). */
export const TURN_SPEED_MPS = 5.5;

/** Legs are drawn one at a time from the truck's PRNG: an endless, reproducible route. */
export function nextLeg(prng: Prng, config: TruckModelConfig, previousHeadingDeg: number, turned: boolean): Leg {
  const turn = turned ? prng.pick([-90, 90, -90, 90, -45, 45]) : prng.range(-10, 10);
  const roll = prng.next();
  const end: LegEnd = roll < config.parkChance ? "park" : roll < config.parkChance + 0.45 ? "turn" : "stop";
  return {
    lengthM: prng.range(config.legM[0], config.legM[1]),
    cruiseMps: prng.range(config.cruiseKmh[0], config.cruiseKmh[1]) / 3.6,
    headingDeg: (((previousHeadingDeg + turn) % 360) + 360) % 360,
    end,
  };
}
