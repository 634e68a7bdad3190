/**
 * The bridge as its own process (`fleetsync bridge --config FILE`, exactly what operators run: the built JavaScript
 * under node in test runs, test/support/build.ts), on a fixed port so a restart after SIGKILL comes back where the
 * agents reconnect. One node process, no npx or tsx in between: a signal reaches the bridge itself, once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type ScryptParams, setTruckSecret } from "../../bridge/auth/credentials.ts";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { fleetsyncCommand } from "../support/build.ts";
import type { RunTopics } from "./kafka.ts";
import { childLifecycle, type Exit, readyLine } from "./child.ts";

export const REPO = resolve(import.meta.dirname, "../..");

/** Cheap scrypt cost for test credentials (the file records the parameters; production uses DEFAULT_SCRYPT). */
export const TEST_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };

export interface BridgeFiles {
  configFile: string;
  credentialsFile: string;
  /** The MQTT port the bridge listens on (fixed, so a restarted bridge is found again). */
  port: number;
}

export interface BridgeFileOptions {
  dir: string;
  brokers: string[];
  /** Default: the contract's topic names. */
  topics?: RunTopics;
  /** truck id -> password. */
  trucks: Record<string, string>;
  scrypt?: ScryptParams;
  partitions?: number;
  forwarder?: Record<string, unknown>;
  /** Bind the metrics endpoint (port 0 = any); default off. */
  http?: boolean;
  /** The desired-config topic the bridge's downlink reads (default fleet.config). */
  configTopic?: string;
}

export async function writeBridgeFiles(options: BridgeFileOptions): Promise<BridgeFiles> {
  const credentialsFile = join(options.dir, "credentials.json");
  for (const [truckId, password] of Object.entries(options.trucks)) {
    await setTruckSecret(credentialsFile, truckId, password, options.scrypt ?? TEST_SCRYPT);
  }
  const port = await freePort();
  const configFile = join(options.dir, "bridge.json");
  const config = {
    listener: { tcp: { host: "127.0.0.1", port } },
    // Every agent comes from 127.0.0.1: the per-source connection limit would otherwise throttle reconnect storms.
    auth: { credentialsFile, maxConnectionsPerSecondPerSource: 10_000 },
    kafka: {
      brokers: options.brokers,
      ...(options.topics ? { topics: options.topics } : {}),
      partitions: options.partitions ?? 4,
      // No replicationFactor: the default (3, or one per broker on a smaller cluster), as operators run it.
      connectionTimeoutMs: 1_000,
    },
    forwarder: { retryMaxMs: 1_000, ...options.forwarder },
    ...(options.http ? { http: { host: "127.0.0.1", port: 0 } } : {}),
    ...(options.configTopic ? { downlink: { topic: options.configTopic } } : {}),
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return { configFile, credentialsFile, port };
}

export interface BridgeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly httpPort: number | null;
  /** What the bridge's ready line says its topics got (null: Kafka was not reachable at start). */
  readonly replicationFactor: number | null;
  readonly exited: Promise<Exit>;
  /** The last lines the bridge logged (stderr), for failure messages. */
  logTail(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM (graceful: in-flight batches finish), SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

export async function spawnBridge(
  configFile: string,
  options: { logLevel?: string; detached?: boolean } = {},
): Promise<BridgeProcess> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", configFile], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: options.logLevel ?? "warn" },
  });
  let tail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  const { exited, kill, stop } = childLifecycle(child, 20_000);
  const ready = await readyLine<{ tcp: number; http: number | null; kafkaReplicationFactor: number | null }>(
    child,
    exited,
    "the bridge",
    () => tail,
    READY_TIMEOUT_MS,
  );
  return {
    child,
    port: ready.tcp,
    httpPort: ready.http,
    replicationFactor: ready.kafkaReplicationFactor,
    exited,
    logTail: () => tail,
    kill,
    stop,
  };
}
