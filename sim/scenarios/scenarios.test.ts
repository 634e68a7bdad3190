import { describe, expect, it } from "vitest";
import { createDetectEngine, parseDetectConfig, parseGeofences } from "../../pipelines/detect/index.ts";
import type { Alert } from "../../protocol/alerts.ts";
import { EventRecordSchema, TelemetryRecordSchema } from "../../protocol/records.ts";
import type { RecordBatch } from "../../pipelines/runtime/types.ts";
import { planScenario, SCENARIO_NAMES, SCENARIOS, scenarioFences } from "./scenarios.ts";

const START = { lat: 51.9, lon: 4.45 };
const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);
const planOf = (name: (typeof SCENARIO_NAMES)[number]) =>
  planScenario(SCENARIOS[name], { truckId: "S-1", stream: "00000000000000ee", startTimeMs: T0, start: START });

/** Runs a scenario's records through the detectors as the pipeline would (one batch per record, live arrival). */
function detect(name: (typeof SCENARIO_NAMES)[number]): Alert[] {
  const plan = planOf(name);
  const engine = createDetectEngine({
    detectors: parseDetectConfig({ kafka: { brokers: ["x:1"] } }).detectors,
    // Only the geofence scenario has a fence ahead: the others drive north too.
    fences: name === "geofence" ? parseGeofences(scenarioFences(START), "scenario") : [],
    maxTrucksPerPartition: 10,
    evictAfterMs: 86_400_000,
  });
  const alerts: Alert[] = [];
  let offset = 0;
  for (const { atMs, record } of plan.records) {
    const batch = {
      kind: record.kind,
      topic: record.kind,
      partition: 0,
      records: [{ record: record.value, offset: String(offset++), kafkaTimestamp: T0 + atMs + 500 }],
      position: () => ({ nextOffset: String(offset), filter: {} }),
    } as RecordBatch;
    const p = engine.plan(batch);
    engine.apply(p);
    alerts.push(...p.alerts);
  }
  // The wall-clock sweep at the scenario's end, with everything read (ten simulated minutes after the last record).
  for (const p of engine.sweep(T0 + plan.durationMs + 600_000, () => true)) alerts.push(...p.alerts);
  return alerts;
}

describe("scripted scenarios", () => {
  it.each(SCENARIO_NAMES)("%s gives exactly its expected alerts", (name) => {
    expect(detect(name).map((a) => `${a.detector}:${a.state}`)).toEqual(SCENARIOS[name].expected);
  });

  it.each(SCENARIO_NAMES)("%s sends valid records with seq rising by one per channel", (name) => {
    const plan = planOf(name);
    const seqs = { telemetry: [] as number[], events: [] as number[] };
    for (const { record } of plan.records) {
      (record.kind === "telemetry" ? TelemetryRecordSchema : EventRecordSchema).parse(record.value);
      seqs[record.kind].push(record.value.seq);
    }
    for (const list of Object.values(seqs)) expect(list).toEqual(list.map((_, i) => i));
  });

  it("cuts the silent truck's connection mid-drive", () => {
    const plan = planOf("silent");
    expect(plan.silentFromMs).toBe(180_000);
    expect(Math.max(...plan.records.map((r) => r.atMs))).toBeLessThan(180_000);
  });

  it("siphon: the records carry no fuel level while the engine is off, as an agent's on a J1939 bus", () => {
    const plan = planOf("siphon");
    const telemetry = plan.records.flatMap((r) => (r.record.kind === "telemetry" ? [r.record.value] : []));
    const levels = telemetry.map((t) => t.engine?.fuelLevelPct);
    // Parked from minute 2 to 13 with no level; the first level after the start is the siphoned one.
    const parked = telemetry.filter((t) => Date.parse(t.ts) - T0 >= 2 * 60_000 && Date.parse(t.ts) - T0 < 13 * 60_000);
    expect(parked.length).toBeGreaterThan(10);
    expect(parked.every((t) => t.engine === undefined)).toBe(true);
    // Nothing of the fall or the fill in between: the levels seen are the drive's, the siphoned one, the filled one.
    expect([...new Set(levels.filter((l) => l !== undefined))]).toEqual([60, 48, 95]);
  });
});
