/**
 * Scripted truck behaviours for the detectors, on a simulated clock: each scenario is a list of segments (drive,
 * stand with the engine on, park, silence, fuel changes, trouble codes) that becomes the records an agent would
 * send, stamped with simulated GNSS time. `fleetsync sim scenario` publishes them through the bridge faster than
 * real time (scenario-run.ts); tests feed them to the detectors directly or through Kafka.
 *
 * Records are taken as the agent's sampler does by default in spirit: every 10 s while moving, every 30 s while
 * standing (shorter than the agent's 5 min parked period so the scenarios need only a few simulated minutes), and
 * an event at once for ignition changes and trouble codes. With the engine off the records carry no engine part,
 * as an agent's do: a J1939 engine ECU (and with it the fuel level, DD1) is silent with the ignition off, and the
 * agent drops engine values it no longer hears. The data sheet wins over the simulator: a siphoning shows only in
 * the level at the next start.
 */
import type { Detector } from "../../protocol/alerts.ts";
import type { EventRecord, TelemetryRecord } from "../../protocol/records.ts";

export interface Segment {
  minutes: number;
  /** Constant speed over the segment (0: standing). */
  kmh?: number;
  /** Engine running (default: true when moving). */
  engine?: boolean;
  /** Heading while moving, degrees from north (default 0: north). */
  headingDeg?: number;
  /** Fuel level at the end of the segment (linear from the start's level; unseen while the engine is off). */
  fuelTo?: number;
  /** Trouble codes raised / cleared at the segment's start (J1939 SPN/FMI of the engine, SA 0). */
  raise?: { spn: number; fmi: number }[];
  clear?: { spn: number; fmi: number }[];
  /** Nothing is sent during the segment and the connection is cut at its start (a jammer, a cut cable). */
  silent?: boolean;
}

export interface ScenarioRecord {
  /** Simulated time since the scenario's start, ms. */
  atMs: number;
  record: { kind: "telemetry"; value: TelemetryRecord } | { kind: "events"; value: EventRecord };
}

export interface ScenarioPlan {
  records: ScenarioRecord[];
  /** Simulated time at which the truck goes silent (connection cut), if it does. */
  silentFromMs?: number;
  /** Simulated length of the scenario, ms. */
  durationMs: number;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  segments: Segment[];
  /** The alert changes the detectors must give for it, in order (detector:state), and no others. */
  expected: `${Detector}:${"opened" | "updated" | "closed"}`[];
}

export const SCENARIO_NAMES = ["idle", "silent", "siphon", "dtc", "geofence"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const COOLANT = { spn: 110, fmi: 0 };

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  idle: {
    name: "idle",
    description: "drives 2 min, stands with the engine running for 25 min, drives off, parks",
    segments: [{ minutes: 2, kmh: 50 }, { minutes: 25, engine: true }, { minutes: 2, kmh: 40 }, { minutes: 1 }],
    expected: ["idling:opened", "idling:closed"],
  },
  silent: {
    name: "silent",
    description: "drives 3 min, then nothing: the connection is cut mid-drive",
    segments: [
      { minutes: 3, kmh: 70 },
      { minutes: 30, kmh: 70, silent: true },
    ],
    expected: ["silent:opened"],
  },
  siphon: {
    name: "siphon",
    description:
      "parks, loses 12 fuel points in 6 min with the engine off, starts (the drop shows), drives to a pump, is " +
      "refuelled with the engine off, starts (the rise shows), drives off, parks",
    segments: [
      { minutes: 2, kmh: 50, fuelTo: 60 },
      { minutes: 3 },
      { minutes: 6, fuelTo: 48 },
      { minutes: 2 },
      // Started, standing while the brakes' air pressure builds: the first level after the silence.
      { minutes: 1, engine: true },
      { minutes: 3, kmh: 50 },
      { minutes: 4, fuelTo: 95 },
      { minutes: 1, engine: true },
      { minutes: 2, kmh: 50 },
      { minutes: 1 },
    ],
    expected: ["fuel-drop:closed", "refuel:closed"],
  },
  dtc: {
    name: "dtc",
    description: "raises a coolant temperature code while driving (announced twice), clears it 4 min later, parks",
    segments: [
      { minutes: 2, kmh: 60 },
      { minutes: 2, kmh: 60, raise: [COOLANT] },
      { minutes: 2, kmh: 60, raise: [COOLANT] },
      { minutes: 1, kmh: 60, clear: [COOLANT] },
      { minutes: 1 },
    ],
    expected: ["dtc:opened", "dtc:closed"],
  },
  geofence: {
    name: "geofence",
    description: "drives north through a fence 3-5 km ahead of its start, parks beyond it",
    segments: [{ minutes: 8, kmh: 60 }, { minutes: 1 }],
    expected: ["geofence-enter:closed", "geofence-exit:closed"],
  },
};

const EARTH_RADIUS_M = 6_371_000;
const MOVING_PERIOD_MS = 10_000;
const STANDING_PERIOD_MS = 30_000;

export interface PlanOptions {
  truckId: string;
  stream: string;
  /** GNSS time at the scenario's start, ms since the epoch. */
  startTimeMs: number;
  start: { lat: number; lon: number };
  fuelPct?: number;
}

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** The records a truck following `scenario` sends, in order. */
export function planScenario(scenario: Scenario, options: PlanOptions): ScenarioPlan {
  const records: ScenarioRecord[] = [];
  let seqT = 0;
  let seqE = 0;
  let tMs = 0;
  let { lat, lon } = options.start;
  let fuel = options.fuelPct ?? 60;
  let engineWas: boolean | undefined;
  let silentFromMs: number | undefined;
  const open = new Set<string>();
  const gps = (kmh: number, heading: number) => ({
    fix: "3d" as const,
    lat: round(lat, 7),
    lon: round(lon, 7),
    altM: 5,
    speedKmh: round(kmh, 1),
    courseDeg: round(heading % 360, 1),
    sats: 10,
    hdop: 0.9,
  });
  const envelope = (seq: number, atMs: number) => ({
    truckId: options.truckId,
    stream: options.stream,
    seq,
    ts: new Date(options.startTimeMs + atMs).toISOString(),
    timeSource: "gnss" as const,
  });
  const event = (atMs: number, body: Record<string, unknown>, kmh: number, heading: number) =>
    records.push({
      atMs,
      record: {
        kind: "events",
        value: { ...envelope(seqE++, atMs), gps: gps(kmh, heading), ...body } as EventRecord,
      },
    });

  for (const segment of scenario.segments) {
    const kmh = segment.kmh ?? 0;
    const heading = segment.headingDeg ?? 0;
    const engine = segment.engine ?? kmh > 0;
    const lengthMs = segment.minutes * 60_000;
    const fuelFrom = fuel;
    const fuelTo = segment.fuelTo ?? fuel;
    if (segment.silent) {
      silentFromMs ??= tMs;
      tMs += lengthMs;
      continue;
    }
    if (engineWas !== engine) event(tMs, { type: "ignition", on: engine }, kmh, heading);
    engineWas = engine;
    for (const code of segment.raise ?? []) {
      // A code already active is announced again (as after an agent restart): the detector must not alert twice.
      open.add(`${code.spn}/${code.fmi}`);
      event(tMs, { type: "dtc", change: "raised", dtc: { j1939: { ...code, oc: 1, sa: 0 } } }, kmh, heading);
    }
    for (const code of segment.clear ?? []) {
      if (!open.delete(`${code.spn}/${code.fmi}`)) continue;
      event(tMs, { type: "dtc", change: "cleared", dtc: { j1939: { ...code, oc: 1, sa: 0 } } }, kmh, heading);
    }
    const period = kmh > 0 ? MOVING_PERIOD_MS : STANDING_PERIOD_MS;
    for (let at = 0; at < lengthMs; at += period) {
      const step = Math.min(period, lengthMs - at);
      records.push({
        atMs: tMs + at,
        record: {
          kind: "telemetry",
          value: {
            ...envelope(seqT++, tMs + at),
            gps: gps(kmh, heading),
            ...(engine
              ? {
                  engine: {
                    engineSpeedRpm: kmh > 0 ? 1400 : 650,
                    wheelSpeedKmh: round(kmh, 1),
                    fuelLevelPct: round(fuelFrom + ((fuelTo - fuelFrom) * at) / lengthMs, 1),
                    coolantTempC: 85,
                  },
                }
              : {}),
          },
        },
      });
      const metres = (kmh / 3.6) * (step / 1000);
      const rad = (heading * Math.PI) / 180;
      lat += ((metres * Math.cos(rad)) / EARTH_RADIUS_M) * (180 / Math.PI);
      lon += ((metres * Math.sin(rad)) / (EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180))) * (180 / Math.PI);
    }
    fuel = fuelTo;
    tMs += lengthMs;
  }
  return { records, durationMs: tMs, ...(silentFromMs === undefined ? {} : { silentFromMs }) };
}

/**
 * The geofence scenario's fence: a band 3-5 km north of `start`, 2 km wide (GeoJSON, [lon, lat]). The detect
 * pipeline reads it from a file (`--geofences`).
 */
export function scenarioFences(start: { lat: number; lon: number }, id = "scenario-zone") {
  const dLat = (m: number) => (m / EARTH_RADIUS_M) * (180 / Math.PI);
  const dLon = (m: number) => dLat(m) / Math.cos((start.lat * Math.PI) / 180);
  const [south, north] = [start.lat + dLat(3_000), start.lat + dLat(5_000)];
  const [west, east] = [start.lon - dLon(1_000), start.lon + dLon(1_000)];
  return {
    type: "FeatureCollection",
    features: [
      {
        type: "Feature",
        id,
        properties: { name: "Scenario zone" },
        geometry: {
          type: "Polygon",
          coordinates: [
            [
              [west, south],
              [east, south],
              [east, north],
              [west, north],
              [west, south],
            ],
          ],
        },
      },
    ],
  };
}
