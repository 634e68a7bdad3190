/**
 * The forwarder's logic against a Kafka sink double and a fake client (no Aedes, no Kafka): the PUBACK is released
 * only after the sink delivered, the ACL is applied before anything is queued, bad payloads become dead letters,
 * and an MQTT 5 confirmation names where the record landed. The same paths end to end, with Aedes over TCP and real
 * Kafka, are in test/integration/bridge/forwarding.test.ts.
 */
import type { Client, PublishPacket } from "aedes";
import { describe, expect, it } from "vitest";
import { FleetError, isFleetError } from "../../common/errors.ts";
import { silentLogger } from "../../common/log.ts";
import { encodeTelemetry } from "../../protocol/codec.ts";
import { parseConfirmReply } from "../../protocol/confirm.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";
import type { TelemetryRecord } from "../../protocol/records.ts";
import { confirmTopic, topicFor } from "../../protocol/topics.ts";
import { lifecycleContract } from "../../test/support/lifecycle-contract.ts";
import { waitFor } from "../../test/support/wait.ts";
import type { Delivery, OutMessage } from "../kafka-sink/index.ts";
import { ForwarderConfigSchema } from "./config.ts";
import { createForwarder } from "./forwarder.ts";

const client = (id: string) => ({ id, closed: false }) as unknown as Client;

const record = (seq: number): TelemetryRecord => ({
  truckId: "fw-1",
  stream: "0123456789abcdef",
  seq,
  ts: new Date(Date.UTC(2026, 10, 30, 6, 0, seq)).toISOString(),
  timeSource: "gnss",
  gps: { fix: "3d", lat: 52.52, lon: 13.405, altM: 34.5, speedKmh: 61.2, courseDeg: 90.5, sats: 9, hdop: 0.9 },
});

/** A sink that holds each batch until released, then names offsets 100, 101, ... on partition 3. */
function heldSink() {
  const batches: OutMessage[][] = [];
  const releases: (() => void)[] = [];
  return {
    batches,
    release: () => releases.splice(0).forEach((run) => run()),
    send(messages: OutMessage[]): Promise<Delivery[]> {
      batches.push(messages);
      return new Promise((resolve) =>
        releases.push(() =>
          resolve(messages.map((m, i) => ({ topic: m.topic, partition: 3, offset: String(100 + i) }))),
        ),
      );
    },
  };
}

function forwarderWith(sink = heldSink(), config: { drainTimeoutMs?: number } = {}) {
  const published: { topic: string; payload: Buffer | string }[] = [];
  const forwarder = createForwarder(ForwarderConfigSchema.parse(config), {
    sink,
    topics: { ...DEFAULT_KAFKA_TOPICS },
    logger: silentLogger,
    publish: (packet) => published.push({ topic: packet.topic, payload: packet.payload }),
  });
  return { forwarder, sink, published };
}

function publish(
  forwarder: ReturnType<typeof createForwarder>,
  truckId: string,
  packet: Partial<PublishPacket>,
): { acked: Promise<Error | null | undefined>; settled: () => boolean } {
  let done = false;
  const acked = new Promise<Error | null | undefined>((resolve) =>
    forwarder.authorizePublish(
      client(truckId),
      { cmd: "publish", qos: 1, dup: false, retain: false, messageId: 1, ...packet } as PublishPacket,
      (error) => {
        done = true;
        resolve(error);
      },
    ),
  );
  return { acked, settled: () => done };
}

describe("forwarder (sink double)", () => {
  it("releases the PUBACK only after the sink delivered the records, keyed by truck on the telemetry topic", async () => {
    const { forwarder, sink } = forwarderWith();
    const result = publish(forwarder, "fw-1", {
      topic: topicFor("fw-1", "telemetry"),
      payload: encodeTelemetry([record(1), record(2)]),
    });
    await waitFor(() => sink.batches.length === 1, "the batch to reach the sink");
    expect(result.settled()).toBe(false);
    expect(sink.batches[0]!.map((m) => [m.topic, m.key])).toEqual([
      [DEFAULT_KAFKA_TOPICS.telemetry, "fw-1"],
      [DEFAULT_KAFKA_TOPICS.telemetry, "fw-1"],
    ]);
    sink.release();
    expect(await result.acked).toBeNull();
  });

  it("refuses a publish under another truck's id before anything is queued", async () => {
    const { forwarder, sink } = forwarderWith();
    const error = await publish(forwarder, "fw-1", {
      topic: topicFor("fw-2", "telemetry"),
      payload: encodeTelemetry([record(1)]),
    }).acked;
    expect(isFleetError(error, "FLEET_AUTH")).toBe(true);
    expect(sink.batches).toHaveLength(0);
  });

  it("turns a payload that does not decode into one dead letter, and acknowledges it once written", async () => {
    const { forwarder, sink } = forwarderWith();
    const result = publish(forwarder, "fw-1", { topic: topicFor("fw-1", "telemetry"), payload: Buffer.from("junk") });
    await waitFor(() => sink.batches.length === 1, "the dead letter to reach the sink");
    expect(sink.batches[0]!.map((m) => m.topic)).toEqual([DEFAULT_KAFKA_TOPICS.deadletter]);
    sink.release();
    expect(await result.acked).toBeNull();
  });

  it("answers an MQTT 5 confirmation request with the topic, partition and offset the sink reported", async () => {
    const { forwarder, sink, published } = forwarderWith();
    const result = publish(forwarder, "fw-1", {
      topic: topicFor("fw-1", "telemetry"),
      payload: encodeTelemetry([record(7)]),
      properties: { responseTopic: confirmTopic("fw-1"), correlationData: Buffer.from("c1") },
    });
    await waitFor(() => sink.batches.length === 1, "the batch to reach the sink");
    sink.release();
    await result.acked;
    expect(published).toHaveLength(1);
    expect(published[0]!.topic).toBe(confirmTopic("fw-1"));
    expect(parseConfirmReply(Buffer.from(published[0]!.payload))).toMatchObject({
      ok: true,
      topic: DEFAULT_KAFKA_TOPICS.telemetry,
      partition: 3,
      offset: "100",
    });
  });

  it("writes a truck's latest record to the latest topic, keyed by truck; a latest of two records is a dead letter", async () => {
    const { forwarder, sink } = forwarderWith();
    const one = publish(forwarder, "fw-1", {
      topic: topicFor("fw-1", "latest"),
      payload: encodeTelemetry([record(9)]),
    });
    await waitFor(() => sink.batches.length === 1, "the latest record to reach the sink");
    expect(sink.batches[0]!.map((m) => [m.topic, m.key, m.headers["fleet-schema"]])).toEqual([
      [DEFAULT_KAFKA_TOPICS.latest, "fw-1", "fleetsync.latest"],
    ]);
    expect(JSON.parse(String(sink.batches[0]![0]!.value))).toMatchObject({ truckId: "fw-1", seq: 9 });
    sink.release();
    expect(await one.acked).toBeNull();
    const two = publish(forwarder, "fw-1", {
      topic: topicFor("fw-1", "latest"),
      payload: encodeTelemetry([record(10), record(11)]),
    });
    await waitFor(() => sink.batches.length === 2, "the dead letter to reach the sink");
    expect(sink.batches[1]!.map((m) => m.topic)).toEqual([DEFAULT_KAFKA_TOPICS.deadletter]);
    sink.release();
    expect(await two.acked).toBeNull();
    // Another truck's latest topic is refused like any other topic of its.
    const other = await publish(forwarder, "fw-1", {
      topic: topicFor("fw-2", "latest"),
      payload: encodeTelemetry([record(12)]),
    }).acked;
    expect(isFleetError(other, "FLEET_AUTH")).toBe(true);
  });
});

describe("forwarder lifecycle (sink double)", () => {
  const telemetryPacket = { topic: topicFor("fw-1", "telemetry"), payload: encodeTelemetry([record(1)]) };
  /** Kafka down: every send fails with a retriable error, so the batcher keeps the publish and retries it. */
  function downSink() {
    const batches: OutMessage[][] = [];
    return {
      batches,
      release: () => {},
      send(messages: OutMessage[]): Promise<Delivery[]> {
        batches.push(messages);
        return Promise.reject(new FleetError("FLEET_KAFKA", "broker not reachable (test double)"));
      },
    };
  }
  lifecycleContract(() => {
    // A short drain: stop() gives up on the publish Kafka never took and refuses it.
    const { forwarder, sink } = forwarderWith(downSink(), { drainTimeoutMs: 200 });
    return {
      component: forwarder,
      busy: async () => {
        const held = publish(forwarder, "fw-1", telemetryPacket);
        await waitFor(() => sink.batches.length >= 1, "a send of the batch to fail");
        // Settles refused (FLEET_CLOSED), not acknowledged: the truck keeps the record and sends it again.
        return { settled: held.acked };
      },
      call: async () => {
        const error = await publish(forwarder, "fw-1", telemetryPacket).acked;
        if (error) throw error;
      },
    };
  });
});
