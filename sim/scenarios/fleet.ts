/**
 * A fleet of scripted trucks: truck i follows scenario i mod 5 and starts 10 km from its neighbours (so nobody
 * drives into another's fence). Each plan gives every truck a new random stream id, as an agent's outbox created
 * afresh does (design promise 2): a plan is a new trip, and its records are not the same records as another plan's
 * of the same truck. A stream derived from the truck id repeated (stream, seq) across runs (`npm run demo`,
 * `fleetsync sim scenario`) against one Kafka: consumers' in-order filters dropped the second run as duplicates, and
 * its alerts would have carried the first run's ids. A replay of what one plan published still gives the same
 * alert ids: the stream is in the records.
 */
import { randomBytes } from "node:crypto";
import {
  planScenario,
  SCENARIO_NAMES,
  SCENARIOS,
  type ScenarioName,
  type ScenarioPlan,
  scenarioFences,
} from "./scenarios.ts";

export interface ScriptedTruck {
  truckId: string;
  scenario: ScenarioName;
  start: { lat: number; lon: number };
  plan: ScenarioPlan;
}

export interface ScenarioFleetOptions {
  trucks: number;
  prefix?: string;
  /** GNSS time at the start of every truck's scenario. */
  startTimeMs: number;
  /** Which scenarios (default: all five, in turn). */
  names?: readonly ScenarioName[];
}

export function planScenarioFleet(options: ScenarioFleetOptions): ScriptedTruck[] {
  const names = options.names ?? SCENARIO_NAMES;
  const width = String(options.trucks).length;
  return Array.from({ length: options.trucks }, (_, i) => {
    const scenario = names[i % names.length]!;
    const truckId = `${options.prefix ?? "scn"}-${scenario}-${String(i + 1).padStart(width, "0")}`;
    // 0.1 degree apart in both directions: about 11 km north-south, 7 km east-west at these latitudes.
    const start = { lat: 50 + (i % 50) * 0.1, lon: 3 + Math.floor(i / 50) * 0.1 };
    const stream = randomBytes(8).toString("hex");
    return {
      truckId,
      scenario,
      start,
      plan: planScenario(SCENARIOS[scenario], { truckId, stream, startTimeMs: options.startTimeMs, start }),
    };
  });
}

/** The fences of a fleet's geofence trucks, one per truck (ids `zone-<truckId>`), at most `max`. */
export function scenarioFleetFences(fleet: readonly ScriptedTruck[], max = 500) {
  const features = fleet
    .filter((t) => t.scenario === "geofence")
    .slice(0, max)
    .flatMap((t) => scenarioFences(t.start, `zone-${t.truckId}`).features);
  return { type: "FeatureCollection", features };
}
