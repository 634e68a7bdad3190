/**
 * The detect service in this process for the scenario end-to-end tests (detect-scenarios: records published
 * directly; detect-agents: through real agents): on a run's topics with the scripted trucks' fences, the check
 * that it has read every record, and the check that each truck gave exactly its scenario's alert changes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { createDeviceFleet, type DeviceFleet } from "../../sim/index.ts";
import { type ScriptedTruck, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { SCENARIOS } from "../../sim/scenarios/scenarios.ts";
import { createScriptedDevices } from "../../sim/scenarios/scripted-devices.ts";
import { deleteTopics, kafkaBrokers, readToEnd, uniqueTopic } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type BridgeFiles, type BridgeProcess, spawnBridge, writeBridgeFiles } from "./bridge.ts";
import { type RunTopics, runTopics } from "./kafka.ts";

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
    topics: Pick<RunTopics, "telemetry" | "events" | "status">;
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

/**
 * What every detect e2e test starts from: a temporary folder, the run's own topics, the bridge process for the
 * scripted trucks and the detect service reading those topics into an alerts topic of its own. `cleanup` stops and
 * removes all of it, the topics too (a shared Kafka must not collect a run's topics).
 */
export async function startScenarioRun(
  kafka: Kafka,
  options: {
    /** Names the folder, topics and consumer group. */
    name: string;
    trucks: readonly ScriptedTruck[];
    detectors?: DetectConfigInput["detectors"];
    cleanup: (() => Promise<unknown>)[];
  },
): Promise<{ dir: string; topics: RunTopics; files: BridgeFiles; detect: ScenarioDetect }> {
  const { name, trucks, cleanup } = options;
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const topics = runTopics(name);
  const { files } = await startScenarioBridge(dir, topics, trucks, cleanup);
  const alertsTopic = uniqueTopic(`${name}-alerts`);
  cleanup.push(() => deleteTopics(kafka, [...Object.values(topics), alertsTopic, `${alertsTopic}.state`]));
  const detect = await startScenarioDetect(kafka, {
    groupId: `${name}-${Date.now().toString(36)}`,
    topics,
    alertsTopic,
    trucks,
    ...(options.detectors ? { detectors: options.detectors } : {}),
  });
  cleanup.push(() => detect.service.stop());
  return { dir, topics, files, detect };
}

/** How many alert changes the trucks' scenarios give together. */
export const expectedAlertCount = (trucks: readonly ScriptedTruck[]) =>
  trucks.reduce((n, t) => n + SCENARIOS[t.scenario].expected.length, 0);

/**
 * The bridge process the detect e2e tests put the scripted trucks' records through: one password per truck, two
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

/**
 * The scripted trucks' devices (NMEA and J1939 on socat ptys) on a clock `scale` times the wall clock, started (the
 * agents open their ptys next; the scripts start when the devices do), stopped by `cleanup`.
 */
export async function startScenarioDevices(
  dir: string,
  trucks: readonly ScriptedTruck[],
  options: { startTimeMs: number; scale: number },
  cleanup: (() => Promise<unknown>)[],
): Promise<DeviceFleet> {
  const { startTimeMs } = options;
  const devices = createDeviceFleet(
    {
      dir,
      startTimeMs,
      timeScale: options.scale,
      trucks: trucks.map((t) => ({ truckId: t.truckId, can: "slcan" as const })),
    },
    {
      sims: Object.fromEntries(
        trucks.map((t) => [t.truckId, createScriptedDevices(SCENARIOS[t.scenario], { startTimeMs, start: t.start })]),
      ),
    },
  );
  await devices.start();
  cleanup.push(() => devices.stop());
  return devices;
}

/** Agent settings for scripted devices at `scale`x (merged over test/e2e/agents.ts' defaults). */
export function scenarioAgentOverrides(scale: number) {
  return {
    clock: { timeScale: scale },
    // The scenarios' cadence (sim/scenarios/scenarios.ts): 10 s moving, 30 s standing, in simulated time.
    sampler: { movingPeriodMs: 10_000, parkedPeriodMs: 30_000, minIntervalMs: 0, tickMs: 100 },
    // The GNSS-time guard's tolerance is in the receiver's time: at 20x a pty read held up 500 ms by a busy machine
    // is 10 simulated seconds, the whole default. Scaled, it is the default's 10 s of wall time again. (At 60x the
    // agents test failed once at load average ~50; 20x leaves three times the room for the same scenarios.)
    state: { gnssMaxJumpMs: 10_000 * scale },
  };
}
