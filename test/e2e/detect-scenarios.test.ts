/**
 * The detectors on scripted trucks through the real path: `fleetsync sim scenario`'s publisher (MQTT, binary
 * protocol, QoS 1, simulated time 300x the wall clock) -> the bridge process -> Kafka -> `fleetsync detect` ->
 * the alerts topic. Each scenario's truck gives exactly the alerts its script expects and no others, the silent
 * truck's cut connection (a reset, no DISCONNECT) included.
 *
 * Publishing the records directly covers all five scenarios (silent and siphon cannot go through an agent); the
 * agents on ptys at 60x: detect-agents.test.ts (clock.timeScale).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createDetectService,
  type DetectService,
  parseDetectConfig,
  parseGeofences,
} from "../../pipelines/detect/index.ts";
import { type Alert, AlertSchema } from "../../protocol/alerts.ts";
import { planScenarioFleet, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../sim/scenarios/scenario-run.ts";
import { SCENARIOS } from "../../sim/scenarios/scenarios.ts";
import { deleteTopics, kafkaBrokers, readToEnd, readUntil, testKafka, uniqueTopic } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type BridgeProcess, spawnBridge, writeBridgeFiles } from "./bridge.ts";
import { runTopics } from "./kafka.ts";

const kafka = testKafka("detect-e2e");
const cleanup: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

async function caughtUp(detect: DetectService): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of detect.runner.assignment().map((a) => a.topic)) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [mine] = await admin.fetchOffsets({ groupId: detectGroup, topics: [topic] });
      for (const e of ends) {
        const at = mine?.partitions.find((p) => p.partition === e.partition)?.offset ?? "-1";
        if (e.high !== e.low && BigInt(at) < BigInt(e.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

const detectGroup = `detect-e2e-${Date.now().toString(36)}`;

describe("detectors on scripted trucks through the bridge", () => {
  it("gives each scenario's expected alerts and no others", async () => {
    const dir = await mkdtemp(join(tmpdir(), "detect-e2e-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const topics = runTopics("detect");
    const trucks = planScenarioFleet({ trucks: 5, startTimeMs: Math.floor(Date.now() / 1000) * 1000, prefix: "e2e" });
    const files = await writeBridgeFiles({
      dir,
      brokers: kafkaBrokers(),
      topics,
      trucks: Object.fromEntries(trucks.map((t) => [t.truckId, `pw-${t.truckId}`])),
      partitions: 2,
    });
    const bridge: BridgeProcess = await spawnBridge(files.configFile);
    cleanup.push(() => bridge.stop());
    const alertsTopic = uniqueTopic("detect-e2e-alerts");
    cleanup.push(() => deleteTopics(kafka, [...Object.values(topics), alertsTopic, `${alertsTopic}.state`]));
    const detect: DetectService = createDetectService(
      parseDetectConfig({
        groupId: detectGroup,
        kafka: { brokers: kafkaBrokers() },
        topics: {
          telemetry: topics.telemetry,
          events: topics.events,
          status: topics.status,
          alerts: alertsTopic,
          changelog: `${alertsTopic}.state`,
        },
        // Wall-clock silence, scaled like the scenario clock would not be: 6 s of nothing from an active truck.
        detectors: { silent: { minutes: 0.1, sweepIntervalMs: 250 } },
        http: { port: 0 },
      }),
      { fences: parseGeofences(scenarioFleetFences(trucks), "scenario fences") },
    );
    cleanup.push(() => detect.stop());
    await detect.start();

    const summary = await runScenarios({
      url: `mqtt://127.0.0.1:${files.port}`,
      trucks,
      speed: 300,
      password: (truckId) => `pw-${truckId}`,
    });
    expect(summary.records).toBe(trucks.reduce((n, t) => n + t.plan.records.length, 0));

    const want = trucks.flatMap((t) => SCENARIOS[t.scenario].expected.map((e) => `${t.truckId} ${e}`)).sort();
    const records = await readUntil(
      kafka,
      alertsTopic,
      (r) => r.length >= want.length,
      `${want.length} alert changes`,
      90_000,
    );
    expect(records.length).toBeGreaterThanOrEqual(want.length);
    // No others: once every record is through the detectors (the group's offsets, committed in the checkpoint's
    // transaction, reach the topics' ends), the alerts topic holds exactly these.
    await waitFor(() => caughtUp(detect), "the detectors to finish the records");
    const alerts: Alert[] = (await readToEnd(kafka, alertsTopic)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
    const got = alerts.map((a) => `${a.truckId} ${a.detector}:${a.state}`).sort();
    expect(got).toEqual(want);
    // Per truck, in the order the script gives them.
    for (const t of trucks) {
      expect(
        alerts.filter((a) => a.truckId === t.truckId).map((a) => `${a.detector}:${a.state}`),
        t.scenario,
      ).toEqual(SCENARIOS[t.scenario].expected);
    }
  });
});
