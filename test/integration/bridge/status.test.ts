/**
 * Status records on connect and disconnect are bounded like every other record (issue 13.5): fleet.status is a
 * compacted topic, so only each truck's latest state matters, and a truck that connects and disconnects in a loop
 * while Kafka is unreachable must not grow the bridge's queues. Trucks are real MQTT clients over TCP.
 */
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { deleteTopics, kafkaBrokers, readUntil, testKafka } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  byKey,
  connectTruck,
  startBridge,
  type TestTopics,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const TRUCK = "flapping-1";
const CYCLES = 60;

async function flap(bridge: Bridge, port: number, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i += 1) {
    const client = await connectTruck(port, TRUCK);
    await client.endAsync();
    await waitFor(() => bridge.metrics.connections.get().then((m) => m.values[0]?.value === 0), "the disconnect seen");
  }
}

describe("status records under a truck that connects and disconnects in a loop", () => {
  let space: Workspace;
  let kafka: Kafka;
  const topicsUsed: TestTopics[] = [];

  beforeAll(async () => {
    space = await workspace([TRUCK]);
    kafka = testKafka("status-test");
  });

  afterAll(async () => {
    for (const topics of topicsUsed) await deleteTopics(kafka, Object.values(topics));
    await space?.remove();
  });

  it("Kafka unreachable: the pending status records stay bounded per truck, under the admission bound", async () => {
    const topics = testTopics("status-down");
    const config = bridgeConfig({
      brokers: [`127.0.0.1:${await freePort()}`],
      topics,
      credentialsFile: space.credentialsFile,
      forwarder: { maxPendingRecords: 10, drainTimeoutMs: 1_000 },
    });
    const { bridge, port } = await startBridge(config);
    try {
      await flap(bridge, port, CYCLES);
      // Before: every connect and disconnect queued a status record of its own (2 x CYCLES waiting publishes).
      expect(bridge.forwarder.waitingPublishes).toBeLessThanOrEqual(1);
      expect(bridge.forwarder.pendingRecords).toBeLessThanOrEqual(10);
      // The submission Kafka cannot take, plus the truck's latest state waiting behind it.
      expect(bridge.forwarder.pendingStatuses).toBeLessThanOrEqual(2);
    } finally {
      await bridge.stop();
    }
  });

  it("Kafka up: the truck's latest state (offline) is the last status record written", async () => {
    const topics = testTopics("status-up");
    topicsUsed.push(topics);
    const { bridge, port } = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile }),
    );
    try {
      await flap(bridge, port, 10);
      const records = await readUntil(
        kafka,
        topics.status,
        (r) => {
          const mine = byKey(r, TRUCK);
          return (
            mine.length > 0 && (JSON.parse(mine[mine.length - 1]!.value!) as { state: string }).state === "offline"
          );
        },
        "the last status offline",
        30_000,
      );
      expect(byKey(records, TRUCK).length).toBeLessThanOrEqual(20);
      await waitFor(() => bridge.forwarder.pendingStatuses === 0, "no status left pending");
    } finally {
      await bridge.stop();
    }
  });
});
