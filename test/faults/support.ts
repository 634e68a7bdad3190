/**
 * What every fault test ends with: the verifier's account of both topics must show zero unexplained loss and zero
 * reordering (raw, before the filter, and after it), every truck on one partition; duplicates are allowed (delivery
 * is at least once) and reported. Announced loss is allowed only where the test says so (outbox overflow).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { createDeviceFleet, type DeviceFleet, type VerifySummary } from "../../sim/index.ts";
import type { AgentPlan, AgentProcess } from "../e2e/agents.ts";
import { type BridgeFiles, type BridgeProcess, spawnBridge, writeBridgeFiles } from "../e2e/bridge.ts";
import { describeResult, type FleetResult } from "../e2e/fleet.ts";
import { type RunTopics, runTopics } from "../e2e/kafka.ts";
import { kafkaBrokers } from "../support/kafka.ts";

export function expectNoLossNoReorder(
  name: string,
  result: Pick<FleetResult, "telemetry" | "events">,
  options: { announcedLossAllowed?: boolean } = {},
): void {
  process.stdout.write(`${describeResult(name, result)}\n`);
  for (const [channel, summary] of [
    ["telemetry", result.telemetry],
    ["events", result.events],
  ] as const) {
    const s: VerifySummary = summary;
    expect(s.failures, `${channel} failures`).toEqual([]);
    expect(s.ok, `${channel} ok`).toBe(true);
    expect(s.timedOut, `${channel} timed out`).toBe(false);
    expect(s.totals.lostUnexplained, `${channel} lost without announcement`).toBe(0);
    expect(s.totals.reordered, `${channel} reordered`).toBe(0);
    expect(s.totals.invalid, `${channel} invalid`).toBe(0);
    const afterFilter = Object.values(s.trucks).reduce((n, t) => n + t.reorderedAfterFilter, 0);
    expect(afterFilter, `${channel} out of order after the filter`).toBe(0);
    if (!options.announcedLossAllowed) expect(s.totals.lostAnnounced, `${channel} announced loss`).toBe(0);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The set-up of a fault run with one truck and agent processes (agent-sigkill, outbox-thinning-sigkill): its
 * devices on ptys, the bridge's files (the bridge itself is started by the test, when its story needs it), a metrics
 * port and the agent's plan. `agents` collects every agent process the test spawns, so `stop` can kill what is left.
 */
export interface OneTruckRun {
  dir: string;
  brokers: string[];
  topics: RunTopics;
  files: BridgeFiles;
  metricsPort: number;
  plan: AgentPlan & { metricsPort: number };
  agents: AgentProcess[];
  startBridge(): Promise<BridgeProcess>;
  stop(): Promise<void>;
}

export async function startOneTruckRun(options: {
  name: string;
  truckId: string;
  password: string;
  device: { can: "slcan"; nmeaHz: number; timeScale?: number; tickMs?: number };
  overrides: AgentPlan["overrides"];
}): Promise<OneTruckRun> {
  const { name, truckId, password, device } = options;
  const dir = await mkdtemp(join(tmpdir(), `fleetsync-${name}-`));
  const brokers = kafkaBrokers();
  const topics = runTopics(name);
  const devices: DeviceFleet = createDeviceFleet({
    dir: join(dir, "dev"),
    trucks: [{ truckId, can: device.can, nmeaHz: device.nmeaHz }],
    ...(device.timeScale === undefined ? {} : { timeScale: device.timeScale }),
    ...(device.tickMs === undefined ? {} : { tickMs: device.tickMs }),
  });
  await devices.start();
  const files = await writeBridgeFiles({ dir, brokers, topics, trucks: { [truckId]: password } });
  const metricsPort = await freePort();
  const plan = {
    truckId,
    device: devices.devices()[0]!,
    brokerUrl: `mqtt://127.0.0.1:${files.port}`,
    password,
    dir: join(dir, "agent"),
    metricsPort,
    overrides: options.overrides,
  };
  const agents: AgentProcess[] = [];
  let bridge: BridgeProcess | undefined;
  return {
    dir,
    brokers,
    topics,
    files,
    metricsPort,
    plan,
    agents,
    startBridge: async () => (bridge = await spawnBridge(files.configFile)),
    stop: async () => {
      for (const a of agents) await a.kill("SIGKILL");
      await bridge?.stop();
      await devices.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
