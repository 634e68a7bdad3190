/**
 * The detect service in this process for the scenario end-to-end tests (detect-scenarios: records published
 * directly; detect-agents: through real agents): on a run's topics with the scripted trucks' fences, the check
 * that it has read every record, and the check that each truck gave exactly its scenario's alert changes.
 */
import { expect } from "vitest";
import type { Kafka } from "kafkajs";
import {
  createDetectService,
  type DetectConfigInput,
  type DetectService,
  parseDetectConfig,
  parseGeofences,
} from "../../pipelines/detect/index.ts";
import { type Alert, AlertSchema } from "../../protocol/alerts.ts";
import { type ScriptedTruck, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { SCENARIOS } from "../../sim/scenarios/scenarios.ts";
import { kafkaBrokers, readToEnd } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type BridgeFiles, type BridgeProcess, spawnBridge, writeBridgeFiles } from "./bridge.ts";
import type { RunTopics } from "./kafka.ts";

export interface ScenarioDetect {
  service: DetectService;
  groupId: string;
  alertsTopic: string;
  /** Waits until the group's offsets (committed in the checkpoint's transaction) reach the topics' ends. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Every truck gave exactly its scenario's alert changes, in order, and no other truck any. */
  expectScenarioAlerts(trucks: readonly ScriptedTruck[]): Promise<void>;
}

export async function startScenarioDetect(
  kafka: Kafka,
  options: {
    groupId: string;
    topics: { telemetry: string; events: string; status: string };
    alertsTopic: string;
    trucks: readonly ScriptedTruck[];
    detectors?: DetectConfigInput["detectors"];
  },
): Promise<ScenarioDetect> {
  const { groupId, alertsTopic } = options;
  const service = createDetectService(
    parseDetectConfig({
      groupId,
      kafka: { brokers: kafkaBrokers() },
      topics: {
        telemetry: options.topics.telemetry,
        events: options.topics.events,
        status: options.topics.status,
        alerts: alertsTopic,
        changelog: `${alertsTopic}.state`,
      },
      ...(options.detectors ? { detectors: options.detectors } : {}),
      http: { port: 0 },
    }),
    { fences: parseGeofences(scenarioFleetFences(options.trucks), "scenario fences") },
  );
  await service.start();

  async function atEnd(): Promise<boolean> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of service.runner.assignment().map((a) => a.topic)) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [mine] = await admin.fetchOffsets({ groupId, topics: [topic] });
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

  return {
    service,
    groupId,
    alertsTopic,
    caughtUp: async (timeoutMs = 60_000) => {
      await waitFor(() => atEnd(), "the detectors to finish the records", { timeoutMs });
    },
    async expectScenarioAlerts(trucks) {
      const want = trucks.flatMap((t) => SCENARIOS[t.scenario].expected.map((e) => `${t.truckId} ${e}`)).sort();
      const alerts: Alert[] = (await readToEnd(kafka, alertsTopic)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
      for (const t of trucks) {
        expect(
          alerts.filter((a) => a.truckId === t.truckId).map((a) => `${a.detector}:${a.state}`),
          t.scenario,
        ).toEqual(SCENARIOS[t.scenario].expected);
      }
      expect(alerts.map((a) => `${a.truckId} ${a.detector}:${a.state}`).sort()).toEqual(want);
    },
  };
}

/** How many alert changes the trucks' scenarios give together. */
export const expectedAlertCount = (trucks: readonly ScriptedTruck[]) =>
  trucks.reduce((n, t) => n + SCENARIOS[t.scenario].expected.length, 0);

/**
 * The bridge process both detect e2e tests put the scripted trucks' records through: one password per truck, two
 * partitions, stopped by `cleanup`.
 */
export async function startScenarioBridge(
  dir: string,
  topics: RunTopics,
  trucks: readonly ScriptedTruck[],
  cleanup: (() => Promise<unknown>)[],
): Promise<{ files: BridgeFiles; bridge: BridgeProcess }> {
  const files = await writeBridgeFiles({
    dir,
    brokers: kafkaBrokers(),
    topics,
    trucks: Object.fromEntries(trucks.map((t) => [t.truckId, `pw-${t.truckId}`])),
    partitions: 2,
  });
  const bridge = await spawnBridge(files.configFile);
  cleanup.push(() => bridge.stop());
  return { files, bridge };
}
