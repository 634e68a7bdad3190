/**
 * The bridge against the run's real Kafka, with real MQTT clients over TCP: records land keyed by truck and in
 * order, the ACL and the password check hold, garbage goes to the dead-letter topic without dropping the truck,
 * status records follow connect/disconnect, MQTT 5 confirmation reports where a record landed, and a third-party
 * client (mosquitto_pub, MQTT 5) gets its record in.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { confirmRequestProperties, parseConfirmReply } from "../../../protocol/confirm.ts";
import { confirmTopic, topicFor } from "../../../protocol/topics.ts";
import { kafkaBrokers, testKafka, readUntil, deleteTopics } from "../../support/kafka.ts";
import {
  bridgeConfig,
  byKey,
  closeAll,
  connectTruck,
  PASSWORD,
  startBridge,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const run = promisify(execFile);
const FLEET = Array.from({ length: 100 }, (_, i) => `truck-${i.toString().padStart(3, "0")}`);
const OTHERS = ["T-confirm", "T-thief", "victim", "T-garbage", "T-status", "M1", "T-wrong", "T-order"];

describe("bridge forwarding (real Kafka, real MQTT over TCP)", () => {
  const kafka = testKafka("bridge-forwarding-test");
  let space: Workspace;
  let topics: TestTopics;
  let bridge: Bridge;
  let port: number;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    space = await workspace([...FLEET, ...OTHERS]);
    topics = testTopics("fwd");
    ({ bridge, port } = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile }),
    ));
  });

  afterAll(async () => {
    await closeAll(clients);
    await bridge?.stop();
    await deleteTopics(kafka, Object.values(topics));
    await space?.remove();
  });

  it("100 trucks publishing concurrently: each truck's records sit in one partition, in seq order", async () => {
    const perTruck = 30;
    const trucks = await Promise.all(FLEET.map((id) => connectTruck(port, id)));
    clients.push(...trucks);
    // Every truck sends its whole sequence without waiting for PUBACKs (a window of 30), all trucks at once.
    await Promise.all(
      trucks.map((client, t) =>
        Promise.all(
          Array.from({ length: perTruck }, (_, seq) =>
            client.publishAsync(topicFor(FLEET[t]!, "telemetry"), encodeTelemetry([telemetry(FLEET[t]!, seq)]), {
              qos: 1,
            }),
          ),
        ),
      ),
    );
    const records = await readUntil(
      kafka,
      topics.telemetry,
      (r) => r.filter((x) => x.key?.startsWith("truck-")).length >= FLEET.length * perTruck,
      "the fleet's records",
    );
    const byTruck = new Map<string, { partitions: Set<number>; seqs: number[] }>();
    for (const record of records) {
      if (!record.key?.startsWith("truck-")) continue;
      const entry = byTruck.get(record.key) ?? { partitions: new Set(), seqs: [] };
      entry.partitions.add(record.partition);
      entry.seqs.push((JSON.parse(record.value!) as { seq: number }).seq);
      byTruck.set(record.key, entry);
    }
    expect(byTruck.size).toBe(FLEET.length);
    const expected = Array.from({ length: perTruck }, (_, i) => i);
    for (const [truck, entry] of byTruck) {
      expect([truck, entry.partitions.size]).toEqual([truck, 1]);
      expect([truck, entry.seqs]).toEqual([truck, expected]);
    }
    // Spread: the fleet used more than one partition (the keys really are hashed).
    expect(new Set([...byTruck.values()].map((e) => [...e.partitions][0])).size).toBeGreaterThan(1);
    const metrics = await bridge.metrics.registry.getSingleMetricAsString("fleetsync_bridge_records_total");
    expect(metrics).toMatch(/kind="telemetry"} (\d+)/);
    // Each acknowledged publish was timed (the bridge's share of latency): at least this test's 3,000.
    const ack = await bridge.metrics.registry.getSingleMetricAsString("fleetsync_bridge_publish_ack_seconds");
    expect(Number(/_count (\d+)/.exec(ack)?.[1])).toBeGreaterThanOrEqual(FLEET.length * perTruck);
  });

  it("MQTT 5 confirmation: the reply names the Kafka topic, partition and offset where the record landed", async () => {
    const truck = "T-confirm";
    const client = await connectTruck(port, truck);
    clients.push(client);
    await client.subscribeAsync(confirmTopic(truck), { qos: 1 });
    const request = confirmRequestProperties(truck);
    const reply = new Promise<{ payload: Buffer; correlation?: Buffer }>((resolve) =>
      client.on("message", (_topic, payload, packet) =>
        resolve({ payload, correlation: packet.properties?.correlationData }),
      ),
    );
    await client.publishAsync(topicFor(truck, "telemetry"), encodeTelemetry([telemetry(truck, 7)]), {
      qos: 1,
      properties: request,
    });
    const answer = await reply;
    expect(answer.correlation?.equals(request.correlationData)).toBe(true);
    const parsed = parseConfirmReply(answer.payload);
    expect(parsed).toMatchObject({ ok: true, topic: topics.telemetry, records: 1 });
    const records = await readUntil(kafka, topics.telemetry, (r) => byKey(r, truck).length > 0, "the record");
    const landed = byKey(records, truck)[0]!;
    expect(parsed.ok && { partition: parsed.partition, offset: parsed.offset }).toEqual({
      partition: landed.partition,
      offset: landed.offset,
    });
  });

  it("a truck cannot publish as another truck: the connection is closed, nothing reaches Kafka", async () => {
    const thief = await connectTruck(port, "T-thief");
    clients.push(thief);
    const closed = new Promise<void>((resolve) => thief.once("close", () => resolve()));
    thief.publish(topicFor("victim", "telemetry"), encodeTelemetry([telemetry("victim", 0)]), { qos: 1 });
    await closed;
    const refused = await bridge.metrics.registry.getSingleMetricAsString("fleetsync_bridge_publishes_refused_total");
    expect(refused).toMatch(/reason="acl"} 1/);
    // Prove absence against something that did arrive later: the victim's own record lands, the forged one never.
    const victim = await connectTruck(port, "victim");
    clients.push(victim);
    await victim.publishAsync(topicFor("victim", "telemetry"), encodeTelemetry([telemetry("victim", 100)]), { qos: 1 });
    const records = await readUntil(kafka, topics.telemetry, (r) => byKey(r, "victim").length > 0, "victim's record");
    const victims = byKey(records, "victim").map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
    expect(victims).toEqual([100]);
  });

  it("a wrong password is refused with 'bad user name or password'", async () => {
    await expect(connectTruck(port, "T-wrong", { password: `${PASSWORD}!` })).rejects.toThrow(/[Bb]ad [Uu]ser/);
    await expect(connectTruck(port, "not-in-file")).rejects.toThrow(/[Bb]ad [Uu]ser/);
    // A client id that differs from the username is refused too (the truck id is both).
    await expect(connectTruck(port, "T-wrong", { username: "victim" })).rejects.toThrow(/[Bb]ad [Uu]ser/);
    const failures = await bridge.metrics.registry.getSingleMetricAsString("fleetsync_bridge_auth_failures_total");
    expect(failures).toMatch(/reason="bad-credentials"} 3/);
  });

  it("garbage payloads go to the dead-letter topic with a reason; the truck is acknowledged and stays connected", async () => {
    const truck = "T-garbage";
    const client = await connectTruck(port, truck);
    clients.push(client);
    const garbage = [Buffer.from([0xff, 0x00, 0x13, 0x37]), Buffer.from('{"seq": "not a number"}'), Buffer.alloc(0)];
    for (const payload of garbage) await client.publishAsync(topicFor(truck, "telemetry"), payload, { qos: 1 });
    await client.publishAsync(topicFor(truck, "events"), Buffer.from("[]"), { qos: 1 });
    expect(client.connected).toBe(true);
    // Still usable: a valid record on the same connection.
    await client.publishAsync(topicFor(truck, "telemetry"), encodeTelemetry([telemetry(truck, 1)]), { qos: 1 });
    expect(client.connected).toBe(true);
    const all = await readUntil(kafka, topics.deadletter, (r) => byKey(r, truck).length >= 4, "4 dead letters");
    const dead = byKey(all, truck);
    expect(dead).toHaveLength(4);
    for (const record of dead) {
      expect(record.headers["fleet-error-code"]).toMatch(/^FLEET_PAYLOAD_/);
      expect(record.headers["fleet-error-reason"]?.length).toBeGreaterThan(5);
      expect(record.headers["fleet-truck-id"]).toBe(truck);
    }
    expect(Buffer.from(dead[0]!.value!, "utf8").length).toBeGreaterThan(0);
    expect(dead.map((r) => r.headers["fleet-mqtt-topic"])).toEqual([
      topicFor(truck, "telemetry"),
      topicFor(truck, "telemetry"),
      topicFor(truck, "telemetry"),
      topicFor(truck, "events"),
    ]);
  });

  it("a payload whose own seqs do not rise is a dead letter; resends across payloads stay (issue 13.9)", async () => {
    const truck = "T-order";
    const client = await connectTruck(port, truck);
    clients.push(client);
    const b1 = "b1b1b1b1b1b1b1b1";
    const bad = [
      [telemetry(truck, 10, b1), telemetry(truck, 12, b1), telemetry(truck, 11, b1)], // seq goes back
      [telemetry(truck, 20, b1), telemetry(truck, 20, b1)], // seq repeats
    ];
    for (const records of bad) {
      for (const format of ["binary", "json"] as const) {
        await client.publishAsync(topicFor(truck, "telemetry"), encodeTelemetry(records, { format }), { qos: 1 });
      }
    }
    // Across payloads a resend is legal and stays: seq 40 twice, then 41.
    for (const seq of [40, 40, 41]) {
      await client.publishAsync(topicFor(truck, "telemetry"), encodeTelemetry([telemetry(truck, seq, b1)]), { qos: 1 });
    }
    const dead = await readUntil(kafka, topics.deadletter, (r) => byKey(r, truck).length >= 4, "4 dead letters");
    expect(byKey(dead, truck).map((r) => r.headers["fleet-error-code"])).toEqual(
      Array(4).fill("FLEET_PAYLOAD_INVALID"),
    );
    expect(byKey(dead, truck).map((r) => r.headers["fleet-error-reason"])).toEqual([
      expect.stringContaining("seq 11 after seq 12"),
      expect.stringContaining("seq 11 after seq 12"),
      expect.stringContaining("seq 20 after seq 20"),
      expect.stringContaining("seq 20 after seq 20"),
    ]);
    const kept = await readUntil(kafka, topics.telemetry, (r) => byKey(r, truck).length >= 3, "the resends");
    expect(byKey(kept, truck).map((r) => (JSON.parse(r.value!) as { seq: number }).seq)).toEqual([40, 40, 41]);
  });

  it("status records go to the status topic on connect and disconnect", async () => {
    const truck = "T-status";
    const client = await connectTruck(port, truck);
    await client.endAsync();
    const all = await readUntil(kafka, topics.status, (r) => byKey(r, truck).length >= 2, "online and offline");
    const states = byKey(all, truck).map((r) => JSON.parse(r.value!) as { state: string; truckId: string });
    expect(states.map((r) => [r.truckId, r.state])).toEqual([
      [truck, "online"],
      [truck, "offline"],
    ]);
  });

  it("mosquitto_pub (a third-party MQTT 5 client) sends the JSON form and its record lands", async () => {
    const record = { ...telemetry("M1", 42) } as Record<string, unknown>;
    delete record.truckId;
    await run("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(port), "-V", "mqttv5", "-q", "1"],
      ...["-i", "M1", "-u", "M1", "-P", PASSWORD, "-t", topicFor("M1", "telemetry"), "-m", JSON.stringify(record)],
    ]);
    const all = await readUntil(kafka, topics.telemetry, (r) => byKey(r, "M1").length > 0, "mosquitto's record");
    expect(JSON.parse(byKey(all, "M1")[0]!.value!)).toMatchObject({ truckId: "M1", seq: 42, gps: { fix: "3d" } });
  });
});
