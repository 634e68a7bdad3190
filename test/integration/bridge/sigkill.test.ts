/**
 * Promise 1 across a crash: the bridge runs as its own process (`node dist/cli/fleetsync.js bridge --config ...`,
 * the run's build: test/support/build.ts), is killed with SIGKILL while trucks publish, and started again on the
 * same port. The trucks' MQTT clients
 * reconnect and resend what was not acknowledged; every record ends up in Kafka, in order per truck (a record whose
 * PUBACK was lost in the crash may appear twice; the consumer's (stream, seq) filter drops the repeat).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { kafkaBrokers, testKafka, readUntil, deleteTopics } from "../../support/kafka.ts";
import { fleetsyncCommand } from "../../support/build.ts";
import { waitFor } from "../../support/wait.ts";
import {
  byKey,
  closeAll,
  connectTruck,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const TRUCKS = ["kill-1", "kill-2", "kill-3", "kill-4", "kill-5"];
const PER_TRUCK = 150;

function startBridgeProcess(configFile: string): Promise<ChildProcess> {
  // One node process running the build, as in production: a signal reaches the bridge and nothing else.
  const child = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", configFile], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const line = chunk.toString();
      if (!line.includes('"ready":true')) return;
      // The bridge as the CLI runs it uses our record encoder, not kafkajs' own (kafkajs-fast-path.ts).
      if (line.includes('"kafkajsFastPath":true')) resolve(child);
      else reject(new Error(`bridge runs without the kafkajs fast path: ${line}`));
    });
    child.once("exit", (code) => reject(new Error(`bridge exited with ${code} before it was ready: ${stderr}`)));
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  return exited;
}

describe("bridge killed with SIGKILL mid-stream and restarted", () => {
  const kafka = testKafka("bridge-sigkill-test");
  let space: Workspace;
  let topics: TestTopics;
  let configFile: string;
  let port: number;
  let child: ChildProcess | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    space = await workspace(TRUCKS);
    topics = testTopics("kill");
    port = await freePort();
    configFile = join(space.dir, "bridge.json");
    await writeFile(
      configFile,
      JSON.stringify({
        listener: { tcp: { host: "127.0.0.1", port } },
        auth: { credentialsFile: "credentials.json" },
        kafka: { brokers: kafkaBrokers(), topics, partitions: 3, replicationFactor: 1 },
        forwarder: { lingerMs: 2 },
      }),
    );
  });

  afterAll(async () => {
    await closeAll(clients);
    if (child && child.exitCode === null && child.signalCode === null) await kill(child, "SIGKILL");
    await deleteTopics(kafka, Object.values(topics));
    await space?.remove();
  });

  it("loses no record: the trucks resend what was not acknowledged", async () => {
    child = await startBridgeProcess(configFile);
    const trucks = await Promise.all(TRUCKS.map((id) => connectTruck(port, id, { reconnectPeriod: 100 })));
    clients.push(...trucks);
    let acked = 0;
    // Each truck sends its records one after another (like the agent's outbox drain, window 1): a publish whose
    // PUBACK never came is resent by MQTT.js from its outgoing store after reconnecting.
    const sending = Promise.all(
      trucks.map(async (client, t) => {
        const id = TRUCKS[t]!;
        for (let seq = 0; seq < PER_TRUCK; seq += 1) {
          await client.publishAsync(topicFor(id, "telemetry"), encodeTelemetry([telemetry(id, seq)]), { qos: 1 });
          acked += 1;
        }
      }),
    );
    await waitFor(() => acked >= 150, "a third of the records acknowledged", { timeoutMs: 60_000 });
    await kill(child, "SIGKILL");
    const ackedAtKill = acked;
    child = await startBridgeProcess(configFile);
    await sending;
    expect(ackedAtKill).toBeLessThan(TRUCKS.length * PER_TRUCK);

    const records = await readUntil(
      kafka,
      topics.telemetry,
      (r) => TRUCKS.every((id) => new Set(byKey(r, id).map((x) => x.value)).size >= PER_TRUCK),
      "every truck's records",
      60_000,
    );
    for (const id of TRUCKS) {
      const seqs = byKey(records, id).map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
      const kept: number[] = [];
      for (const seq of seqs) if (kept.length === 0 || seq > kept[kept.length - 1]!) kept.push(seq);
      expect([id, kept]).toEqual([id, Array.from({ length: PER_TRUCK }, (_, i) => i)]);
      expect(new Set(byKey(records, id).map((r) => r.partition)).size).toBe(1);
    }

    // Graceful stop on SIGTERM: the bridge finishes, says so on stdout, and its process exits 0 (signals.test.ts
    // covers a signal delivered twice).
    let stdout = "";
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
    });
    const closed = new Promise<number | null>((resolve) => child!.once("close", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await closed).toBe(0);
    expect(stdout).toContain('"stopped":true');
  });
});
