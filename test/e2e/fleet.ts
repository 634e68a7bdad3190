/**
 * One end-to-end run: simulated trucks on socat ptys (sim device mode, SLCAN and ELM327 adapters), a real agent per
 * truck in this process reading them, the bridge as its own process, and Kafka. The run ends the way a test needs
 * it to: every agent stops taking records, the outboxes drain, and the verifier (sim's runVerify, protocol/'s
 * in-order filter) reads both Kafka topics back and accounts for every record each agent made.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDeviceFleet, type DeviceFleet, runVerify, type VerifySummary } from "../../sim/index.ts";
import { waitFor } from "../support/wait.ts";
import { type AgentPlan, type ChannelCounts, type InProcessAgent, startInProcessAgent } from "./agents.ts";
import { type BridgeFiles, type BridgeProcess, spawnBridge, writeBridgeFiles } from "./bridge.ts";
import { type RunTopics, runTopics } from "./kafka.ts";

/** "none": a truck with GPS only (no CAN adapter: one pty and no J1939 decoding, for large fleets). */
export type CanKind = "slcan" | "elm327" | "none";

export interface FleetRunOptions {
  /** Names the topics and the temporary folder. */
  name: string;
  brokers: string[];
  trucks: number;
  /** CAN adapter per truck; default: every third truck an ELM327, the others SLCAN. */
  canKind?: (index: number) => CanKind;
  nmeaHz?: number;
  /** Agent configuration overrides for every truck (see agents.ts). */
  agent?: AgentPlan["overrides"];
  /** Bridge forwarder settings. */
  forwarder?: Record<string, unknown>;
  /**
   * The URL agents dial, given the bridge's port (a fault proxy goes in between) and the bridge's files (several
   * bridges behind HAProxy start from them). Default: the bridge itself.
   */
  agentUrl?: (bridgePort: number, files: BridgeFiles) => string | Promise<string>;
  /** Start the bridge at once (default true); false for faults that begin with the bridge down. */
  bridgeUp?: boolean;
  /**
   * Simulated time runs this many times faster on the devices (sim/devices `timeScale`); the agents get the same
   * `clock.timeScale` through `agent` (the caller's overrides: sampler periods are in simulated time too).
   */
  timeScale?: number;
  /** How often the devices write (sim/devices `tickMs`, default 20 ms): at a high timeScale, one epoch per write. */
  deviceTickMs?: number;
}

export interface FleetResult {
  /** Records each truck's agent made, per channel: what Kafka must hold. */
  made: Record<string, ChannelCounts>;
  telemetry: VerifySummary;
  events: VerifySummary;
  /** From "stop taking records" to "every outbox empty". */
  drainMs: number;
}

export interface FleetRun {
  readonly dir: string;
  readonly topics: RunTopics;
  readonly devices: DeviceFleet;
  readonly agents: InProcessAgent[];
  readonly bridgeFiles: BridgeFiles;
  /** The running bridge process, if any. */
  bridge(): BridgeProcess | undefined;
  startBridge(): Promise<BridgeProcess>;
  /** Waits until every truck's agent has made at least `perTruck` telemetry records. */
  waitMade(perTruck: number, timeoutMs?: number): Promise<void>;
  /** Waits until every truck has at least `perTruck` telemetry records acknowledged (so in Kafka). */
  waitAcked(perTruck: number, timeoutMs?: number): Promise<void>;
  /** Stops taking records, waits for every outbox to drain, verifies both topics. */
  finish(options?: { drainTimeoutMs?: number; verifyTimeoutMs?: number }): Promise<FleetResult>;
  /** Stops agents, bridge and devices, removes the folder. Idempotent. */
  close(): Promise<void>;
}

const PASSWORD_PREFIX = "e2e-secret-";

export async function startFleetRun(options: FleetRunOptions): Promise<FleetRun> {
  const dir = await mkdtemp(join(tmpdir(), `fleetsync-e2e-${options.name}-`));
  const topics = runTopics(options.name);
  const ids = Array.from({ length: options.trucks }, (_, i) => `${options.name}-${String(i + 1).padStart(3, "0")}`);
  const canKind = options.canKind ?? ((i: number) => (i % 3 === 2 ? "elm327" : "slcan"));
  const devices = createDeviceFleet({
    dir: join(dir, "dev"),
    trucks: ids.map((truckId, i) => ({ truckId, can: canKind(i), nmeaHz: options.nmeaHz ?? 5 })),
    ...(options.timeScale ? { timeScale: options.timeScale } : {}),
    ...(options.deviceTickMs ? { tickMs: options.deviceTickMs } : {}),
  });
  const agents: InProcessAgent[] = [];
  let bridge: BridgeProcess | undefined;
  let closing: Promise<void> | undefined;

  const close = () => {
    closing ??= (async () => {
      await Promise.allSettled(agents.map((a) => a.stop()));
      await bridge?.stop();
      await devices.stop();
      await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };

  try {
    const bridgeFiles = await writeBridgeFiles({
      dir,
      brokers: options.brokers,
      topics,
      trucks: Object.fromEntries(ids.map((id) => [id, PASSWORD_PREFIX + id])),
      ...(options.forwarder ? { forwarder: options.forwarder } : {}),
    });
    const startBridge = async () => {
      bridge = await spawnBridge(bridgeFiles.configFile);
      return bridge;
    };
    if (options.bridgeUp !== false) await startBridge();
    await devices.start();
    const url = (await options.agentUrl?.(bridgeFiles.port, bridgeFiles)) ?? `mqtt://127.0.0.1:${bridgeFiles.port}`;
    const byId = new Map(devices.devices().map((d) => [d.truckId, d]));
    const started = await Promise.all(
      ids.map((truckId) =>
        startInProcessAgent({
          truckId,
          device: byId.get(truckId)!,
          brokerUrl: url,
          password: PASSWORD_PREFIX + truckId,
          dir: join(dir, "agents", truckId),
          ...(options.agent ? { overrides: options.agent } : {}),
        }),
      ),
    );
    agents.push(...started);

    const everyTruck = (what: string, ok: (a: InProcessAgent) => boolean, timeoutMs: number) =>
      waitFor(() => agents.every(ok), what, { timeoutMs, intervalMs: 100 }).then(() => undefined);

    return {
      dir,
      topics,
      devices,
      agents,
      bridgeFiles,
      bridge: () => bridge,
      startBridge,
      waitMade: (n, timeoutMs = 120_000) =>
        everyTruck(`${n} telemetry records made by every truck`, (a) => a.made().telemetry >= n, timeoutMs),
      waitAcked: (n, timeoutMs = 120_000) =>
        everyTruck(`${n} telemetry records acknowledged for every truck`, (a) => a.acked().telemetry >= n, timeoutMs),
      async finish({ drainTimeoutMs = 120_000, verifyTimeoutMs = 90_000 } = {}) {
        const counts = await Promise.all(agents.map((a) => a.quiesce()));
        const made = Object.fromEntries(agents.map((a, i) => [a.truckId, counts[i]!]));
        const began = Date.now();
        await waitFor(
          () => agents.every((a) => a.depth() === 0),
          `every outbox drained (left: ${agents.map((a) => `${a.truckId}=${a.depth()}`).join(" ")})`,
          { timeoutMs: drainTimeoutMs, intervalMs: 50 },
        );
        const drainMs = Date.now() - began;
        const { telemetry, events } = await verifyChannels({
          brokers: options.brokers,
          topics,
          expected: made,
          timeoutMs: verifyTimeoutMs,
        });
        return { made, telemetry, events, drainMs };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The verifier over both topics at once, each channel expecting every truck's count for it (what the agents made,
 * or what their outboxes ever gave a seq): how every run that accounts for its records ends.
 */
export async function verifyChannels(options: {
  brokers: string[];
  topics: Pick<RunTopics, "telemetry" | "events">;
  expected: Record<string, ChannelCounts>;
  timeoutMs: number;
}): Promise<Pick<FleetResult, "telemetry" | "events">> {
  const verify = (channel: keyof ChannelCounts) =>
    runVerify({
      brokers: options.brokers,
      topic: options.topics[channel],
      eventsTopic: options.topics.events,
      channel,
      expect: Object.fromEntries(Object.entries(options.expected).map(([id, c]) => [id, c[channel]])),
      timeoutMs: options.timeoutMs,
    });
  const [telemetry, events] = await Promise.all([verify("telemetry"), verify("events")]);
  return { telemetry, events };
}

/** One line for a test's output: what arrived, what was duplicated, what was lost and why. */
export function describeResult(name: string, result: Pick<FleetResult, "telemetry" | "events">): string {
  const t = result.telemetry.totals;
  const e = result.events.totals;
  return (
    `${name}: telemetry ${t.unique} unique of ${t.received} received from ${t.trucks} trucks, ` +
    `duplicates ${t.duplicates}, reordered ${t.reordered}, lost announced ${t.lostAnnounced}, ` +
    `lost unexplained ${t.lostUnexplained}; events ${e.unique} unique, duplicates ${e.duplicates}, ` +
    `lost unexplained ${e.lostUnexplained}`
  );
}
