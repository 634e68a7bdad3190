/**
 * Stop signals as operators and process managers send them (issue 12, docs/operations.md "Stopping"), to the
 * bridge as production runs it (the build under node). Kafka is an address nobody answers, so a truck's publish
 * stays in flight and the graceful stop lasts its whole deadline: a second signal certainly arrives during it.
 * - SIGTERM delivered twice (a process group signalled while a wrapper such as npx or tsx relays it too; Kubernetes
 *   never sends a second one, it sends SIGKILL): one request, the stop completes, exit 0.
 * - SIGINT again after a pause (Ctrl-C pressed twice at a terminal): stop waiting, exit 130 at once.
 * - The stop itself has one deadline (issue 13.6), here measured on a bridge in this process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBridge } from "../../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../../bridge/config.ts";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { fleetsyncCommand } from "../../support/build.ts";
import { waitFor } from "../../support/wait.ts";
import { closeAll, connectTruck, telemetry, type Workspace, workspace } from "./harness.ts";

const TRUCK = "signal-1";
const STOP_DEADLINE_MS = 4_000;

interface Running {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  closed: Promise<{ code: number | null; at: number }>;
}

async function startBridge(configFile: string): Promise<Running> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "bridge", "--config", configFile], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "info" },
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const closed = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("close", (code) => resolve({ code, at: Date.now() })),
  );
  const line = await waitFor(() => out.split("\n").find((l) => l.includes('"ready":true')), "the ready line", {
    timeoutMs: 60_000,
  });
  return {
    child,
    port: (JSON.parse(line) as { tcp: number }).tcp,
    stdout: () => out,
    stderr: () => err,
    closed,
  };
}

describe("the bridge process and stop signals", () => {
  let space: Workspace;
  let configFile: string;
  let running: Running | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    space = await workspace([TRUCK]);
    configFile = join(space.dir, "bridge.json");
    await writeFile(
      configFile,
      JSON.stringify({
        listener: { tcp: { host: "127.0.0.1", port: 0 } },
        auth: { credentialsFile: space.credentialsFile },
        // A port nothing listens on: the publish below can never be written.
        kafka: { brokers: [`127.0.0.1:${await freePort()}`], connectionTimeoutMs: 500 },
        forwarder: { drainTimeoutMs: STOP_DEADLINE_MS },
      }),
    );
  });

  afterEach(async () => {
    await closeAll(clients.splice(0));
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill("SIGKILL");
      await running.closed;
    }
    running = undefined;
  });

  afterAll(async () => {
    await space?.remove();
  });

  async function startBusy(): Promise<Running> {
    const bridge = await startBridge(configFile);
    const truck = await connectTruck(bridge.port, TRUCK);
    clients.push(truck);
    void truck
      .publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 0)]), { qos: 1 })
      .catch(() => undefined);
    await waitFor(() => bridge.stderr().includes("Kafka batch failed"), "the publish in flight, Kafka failing");
    return bridge;
  }

  it("SIGTERM delivered twice is one request: the stop completes within its deadline, exit 0", async () => {
    running = await startBusy();
    running.child.kill("SIGTERM");
    await waitFor(() => running!.stderr().includes('"signal received"'), "the first signal handled");
    running.child.kill("SIGTERM");
    const { code } = await running.closed;
    expect(code).toBe(0);
    expect(running.stderr()).toContain("stop signal repeated");
    expect(running.stdout()).toContain('"stopped":true');
  });

  it("a stop with Kafka down takes one deadline (forwarder.drainTimeoutMs), not one per stage", async () => {
    const config = parseBridgeConfig(JSON.parse(await readFile(configFile, "utf8")));
    const bridge = createBridge(config);
    await bridge.start();
    try {
      const truck = await connectTruck(bridge.address("tcp")!.port, TRUCK);
      clients.push(truck);
      void truck
        .publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 0)]), { qos: 1 })
        .catch(() => undefined);
      await waitFor(() => bridge.forwarder.pendingRecords > 0, "the publish in flight");
    } finally {
      const began = performance.now();
      await bridge.stop();
      const tookMs = performance.now() - began;
      // Before: the drain's deadline, then the same deadline again, then 2 s more (34 s with the defaults).
      expect(tookMs).toBeGreaterThan(STOP_DEADLINE_MS - 500);
      expect(tookMs).toBeLessThan(STOP_DEADLINE_MS + 1_500);
    }
  });

  it("SIGINT again after a pause stops waiting: exit 130 before the deadline", async () => {
    running = await startBusy();
    const began = Date.now();
    running.child.kill("SIGINT");
    await waitFor(() => running!.stderr().includes('"signal received"'), "the first signal handled");
    // Ctrl-C pressed again by a person: a second later, not the same keypress relayed by a wrapper.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    running.child.kill("SIGINT");
    const { code } = await running.closed;
    expect(code).toBe(130);
    expect(running.stdout()).not.toContain('"stopped":true');
    expect(Date.now() - began).toBeGreaterThan(1_000);
  });
});
