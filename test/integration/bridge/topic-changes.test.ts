/**
 * Topics that change under a running bridge (issue 13, points 1 and 2), with the run's real Kafka and trucks over
 * MQTT sockets:
 * - a topic deleted and re-created with fewer partitions: every acknowledged record must be in Kafka, the change is
 *   counted and shown on /readyz (keys move to the partitions that exist now, docs/bridge.md);
 * - a topic deleted while the bridge creates topics: it is created again and the records land;
 * - a topic deleted while the bridge may not create topics: /readyz says why it is not ready, the records for that
 *   topic wait unacknowledged, and another topic's records are not held behind them.
 */
// First, as in the bridge: the sink must load its kafkajs record encoder before kafkajs itself is loaded.
import { KeyPartitioner } from "../../../common/kafka/partitions.ts";
import type { Admin, Kafka } from "kafkajs";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { encodeEvents, encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { deleteTopics, kafkaBrokers, readUntil, testKafka } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  byKey,
  closeAll,
  connectTruck,
  counterValue,
  startBridge,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

/** A truck id whose records go to `partition` of a topic with `count` partitions (murmur2, as the bridge). */
function truckOnPartition(prefix: string, partition: number, count: number): string {
  const partitioner = new KeyPartitioner("t", count);
  for (let i = 0; ; i += 1) {
    const id = `${prefix}-${i}`;
    if (partitioner.partitionOf(id) === partition) return id;
  }
}

/** Deletes a topic and waits until Kafka no longer lists it (deletion finishes asynchronously in the broker). */
async function deleteTopic(admin: Admin, topic: string): Promise<void> {
  await admin.deleteTopics({ topics: [topic] });
  await waitFor(async () => !(await admin.listTopics()).includes(topic), `${topic} gone`);
}

async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  // Right after a deletion Kafka may still answer "already exists" or "marked for deletion" for a moment.
  await waitFor(
    () => admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }).then(() => true),
    `${topic} created with ${partitions} partitions`,
  );
}

async function readyz(bridge: Bridge): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${bridge.address("http")!.port}/readyz`);
  return { status: response.status, body: await response.text() };
}

const seqsOf = (records: { value: string | null }[]) =>
  records.map((r) => (JSON.parse(r.value!) as { seq: number }).seq);

describe("topics that change under a running bridge", () => {
  let kafka: Kafka;
  let admin: Admin;
  let space: Workspace;
  let bridge: Bridge | undefined;
  let topics: TestTopics;
  const clients: MqttClient[] = [];
  const TRUCK = truckOnPartition("shrink", 2, 3);
  const OTHER = "other-truck";

  beforeAll(async () => {
    kafka = testKafka("topic-changes-test");
    admin = kafka.admin();
    await admin.connect();
    space = await workspace([TRUCK, OTHER]);
  });

  afterEach(async () => {
    await closeAll(clients.splice(0));
    await bridge?.stop();
    bridge = undefined;
    await deleteTopics(kafka, Object.values(topics));
  });

  afterAll(async () => {
    await admin?.disconnect();
    await space?.remove();
  });

  it("a topic re-created with fewer partitions: every acknowledged record is in Kafka, the change is reported", async () => {
    topics = testTopics("shrink");
    const started = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile, partitions: 3 }),
    );
    bridge = started.bridge;
    const truck = await connectTruck(started.port, TRUCK, { reconnectPeriod: 100 });
    clients.push(truck);
    const publish = (seq: number) =>
      truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, seq)]), { qos: 1 });
    await publish(0);

    await deleteTopic(admin, topics.telemetry);
    await createTopic(admin, topics.telemetry, 1);
    // Each publish waits for its PUBACK: every one of these was acknowledged to the truck.
    for (let seq = 1; seq <= 20; seq += 1) await publish(seq);

    const records = await readUntil(
      kafka,
      topics.telemetry,
      (r) => new Set(seqsOf(byKey(r, TRUCK))).size >= 20,
      "the 20 acknowledged records",
      30_000,
    );
    expect(new Set(seqsOf(byKey(records, TRUCK)))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i + 1)));
    expect(new Set(records.map((r) => r.partition))).toEqual(new Set([0]));
    expect(
      await counterValue(bridge, "fleetsync_bridge_kafka_partition_changes_total", { topic: topics.telemetry }),
    ).toBe(1);
    const ready = await readyz(bridge);
    expect(ready.status).toBe(200);
    expect(ready.body).toContain(`${topics.telemetry}: partitions changed from 3 to 1`);
  });

  it("a topic deleted while the bridge creates topics: created again, the records land", async () => {
    topics = testTopics("recreate");
    const started = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile, partitions: 2 }),
    );
    bridge = started.bridge;
    const truck = await connectTruck(started.port, TRUCK, { reconnectPeriod: 100 });
    clients.push(truck);
    await truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 0)]), { qos: 1 });
    await deleteTopic(admin, topics.telemetry);
    await truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 1)]), { qos: 1 });
    const records = await readUntil(kafka, topics.telemetry, (r) => byKey(r, TRUCK).length >= 1, "seq 1", 30_000);
    expect(seqsOf(byKey(records, TRUCK))).toEqual([1]);
    const metadata = await admin.fetchTopicMetadata({ topics: [topics.telemetry] });
    expect(metadata.topics[0]!.partitions).toHaveLength(2);
  });

  it("a topic deleted while the bridge may not create topics: not ready with the reason; other topics flow", async () => {
    topics = testTopics("missing");
    for (const topic of Object.values(topics)) await createTopic(admin, topic, 2);
    const config = bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile });
    const started = await startBridge({ ...config, kafka: { ...config.kafka, createTopics: false } });
    bridge = started.bridge;
    const truck = await connectTruck(started.port, TRUCK, { reconnectPeriod: 100 });
    const other = await connectTruck(started.port, OTHER, { reconnectPeriod: 100 });
    clients.push(truck, other);
    await truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 0)]), { qos: 1 });

    await deleteTopic(admin, topics.telemetry);
    let telemetryAcked = false;
    const stuck = truck
      .publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 1)]), { qos: 1 })
      .then(() => {
        telemetryAcked = true;
      });
    const ready = await waitFor(async () => {
      const answer = await readyz(bridge!);
      return answer.status === 503 && answer.body.includes(topics.telemetry) ? answer : undefined;
    }, "/readyz naming the missing topic");
    expect(ready.body).toContain("does not exist");

    // Another topic's records are not held behind the telemetry that cannot be written.
    const event = { truckId: OTHER, stream: "0123456789abcdef", seq: 0, ts: new Date().toISOString() };
    await other.publishAsync(
      topicFor(OTHER, "events"),
      encodeEvents([{ ...event, timeSource: "system", type: "ignition", on: true }]),
      { qos: 1 },
    );
    const events = await readUntil(kafka, topics.events, (r) => byKey(r, OTHER).length >= 1, "the event", 30_000);
    expect(byKey(events, OTHER)).toHaveLength(1);
    expect(telemetryAcked).toBe(false);

    // The operator creates the topic again: the waiting record lands and is acknowledged; ready again.
    await createTopic(admin, topics.telemetry, 2);
    await stuck;
    const records = await readUntil(kafka, topics.telemetry, (r) => byKey(r, TRUCK).length >= 1, "seq 1", 30_000);
    expect(seqsOf(byKey(records, TRUCK))).toEqual([1]);
    await waitFor(async () => (await readyz(bridge!)).status === 200, "ready again");
  });
});
