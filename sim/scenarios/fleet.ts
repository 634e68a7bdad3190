/**
 * A fleet of scripted trucks: truck i follows scenario i mod 5, starts 10 km from its neighbours (so nobody drives
 * into another's fence) and has a deterministic stream id, so the same fleet gives the same alert ids in every run.
 */
import { createHash } from "node:crypto";
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
    const stream = createHash("sha256").update(truckId).digest("hex").slice(0, 16);
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
