/**
 * Promise 1 and 3 with Kafka really down. This file starts its OWN Kafka (startLocalKafka) so it can stop and
 * start it without disturbing the run's shared broker.
 *
 * The Aedes fact the design rests on (a QoS 1 PUBACK leaves before the `published` hook runs, and only
 * authorizePublish holds it back) is pinned in bridge/broker/aedes-facts.test.ts. Here the bridge: with Kafka
 * stopped a publish gets no PUBACK and stays in the truck's MQTT client; pending records stay under the bound; when Kafka is back the records land, in order, and
 * the trucks get their PUBACKs.
 */
import { Kafka, logLevel } from "kafkajs";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { type LocalKafka, startLocalKafka } from "../../../deploy/kafka/local-kafka.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { pubackWithin, waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  byKey,
  closeAll,
  connectTruck,
  startBridge,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";
import { readUntil } from "../../support/kafka.ts";

describe("bridge with Kafka stopped and started again (own Kafka)", () => {
  let local: LocalKafka;
  let kafka: Kafka;
  let space: Workspace;
  let topics: TestTopics;
  let bridge: Bridge;
  let port: number;
  const clients: MqttClient[] = [];
  const TRUCKS = ["down-1", "down-2", "down-3"];
  const BOUND = 40;

  beforeAll(async () => {
    local = await startLocalKafka();
    kafka = new Kafka({ brokers: local.brokers, clientId: "kafka-down-test", logLevel: logLevel.NOTHING });
    space = await workspace(TRUCKS);
    topics = testTopics("down");
    ({ bridge, port } = await startBridge(
      bridgeConfig({
        brokers: local.brokers,
        topics,
        credentialsFile: space.credentialsFile,
        forwarder: { maxPendingRecords: BOUND, retryMaxMs: 300 },
      }),
    ));
  });

  afterAll(async () => {
    await closeAll(clients);
    await bridge?.stop();
    await local?.stop();
    await space?.remove();
  });

  it("no PUBACK while Kafka is down, nothing lost; when Kafka is back the records land in order and are acked", async () => {
    const [first, second, third] = await Promise.all(TRUCKS.map((id) => connectTruck(port, id)));
    clients.push(first!, second!, third!);
    // Kafka up: a normal round trip.
    await first!.publishAsync(topicFor("down-1", "telemetry"), encodeTelemetry([telemetry("down-1", 0)]), { qos: 1 });

    await local.stop();
    const pending = [
      first!.publishAsync(topicFor("down-1", "telemetry"), encodeTelemetry([telemetry("down-1", 1)]), { qos: 1 }),
    ];
    // A burst well over the bound from two more trucks: 2 x 60 records, each publish 1 record.
    for (const truck of [second!, third!]) {
      const id = truck.options.clientId!;
      for (let seq = 0; seq < 60; seq += 1) {
        pending.push(truck.publishAsync(topicFor(id, "telemetry"), encodeTelemetry([telemetry(id, seq)]), { qos: 1 }));
      }
    }
    const all = Promise.all(pending);
    expect(await pubackWithin(all, 3_000)).toBe("none");
    // Bounded: never more than BOUND records admitted; the rest wait, unacknowledged, with their sockets unread.
    await waitFor(() => bridge.forwarder.waitingPublishes > 0, "publishes waiting at the bound");
    expect(bridge.forwarder.pendingRecords).toBeLessThanOrEqual(BOUND);
    expect(first!.connected && second!.connected && third!.connected).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${bridge.address("http")!.port}/readyz`);
    expect(ready.status).toBe(503);

    await local.start();
    await pubackWithin(all, 60_000);
    expect(await pubackWithin(all, 0)).toBe("puback");

    const records = await readUntil(
      kafka,
      topics.telemetry,
      (r) => byKey(r, "down-2").length >= 60 && byKey(r, "down-3").length >= 60 && byKey(r, "down-1").length >= 2,
      "every record after the restart",
      60_000,
    );
    const seqs = (key: string) => byKey(records, key).map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
    // Nothing lost, in order per truck; a retried batch may repeat records but never reorders them.
    const dedupe = (list: number[]) => list.filter((seq, i) => i === 0 || seq > Math.max(...list.slice(0, i)));
    expect(dedupe(seqs("down-1"))).toEqual([0, 1]);
    expect(dedupe(seqs("down-2"))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(dedupe(seqs("down-3"))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(bridge.forwarder.pendingRecords).toBe(0);
    const readyAgain = await fetch(`http://127.0.0.1:${bridge.address("http")!.port}/readyz`);
    // The body says why when it is not ready.
    expect([readyAgain.status, await readyAgain.text()]).toEqual([200, "ready\n"]);
  });
});
