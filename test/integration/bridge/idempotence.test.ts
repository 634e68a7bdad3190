/**
 * What kafkajs' warning "Limiting retries for the idempotent producer may invalidate EoS guarantees" means for the
 * bridge (docs/bridge.md, "The idempotent producer's sequence numbers"). The bridge limits kafkajs to 3 retries and
 * retries failed batches itself, forever. kafkajs numbers each partition's batches (producer id + sequence) so the
 * broker can drop a retried batch that already landed; when a send fails it rolls the sequence back, because it
 * cannot know whether the broker wrote the batch. So the next batch on that producer gets the same sequence
 * numbers. If it is the same batch, the broker recognises the duplicate and answers with the original offsets:
 * exactly once. If it is a different batch of the same size, the broker takes it for the duplicate too, answers
 * with the old offsets, and does not write it: its records are acknowledged and lost.
 *
 * These tests make that happen with a real broker: a proxy between the sink and Kafka lets the produce request
 * through and throws the answer away (the broker wrote the batch, the bridge never hears so). They run their own
 * Kafka, with a second listener whose advertised address is the proxy, so every byte of the sink's goes through it.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/log.ts";
import { KafkaSinkConfigSchema } from "../../../bridge/kafka-sink/config.ts";
import { createKafkaSink, type KafkaSink, type OutMessage } from "../../../bridge/kafka-sink/sink.ts";
import { type LocalKafka, startLocalKafka } from "../../../deploy/kafka/local-kafka.ts";
import { readTopic } from "../../support/kafka.ts";
import { type CuttingProxy, startCuttingProxy } from "../../faults/proxy.ts";
import { testTopics } from "./harness.ts";

const records = (truckId: string, from: number, to: number, topic: string): OutMessage[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    topic,
    key: truckId,
    value: JSON.stringify({ truckId, seq: from + i }),
    headers: {},
  }));

describe("the idempotent producer when an answer is lost (kafkajs' limited retries)", () => {
  let local: LocalKafka;
  let proxy: CuttingProxy;
  let reader: Kafka;
  const sinks: KafkaSink[] = [];

  beforeAll(async () => {
    local = await startLocalKafka({ proxiedListener: true });
    proxy = await startCuttingProxy(local.proxied!.listen[0]!, "idempotence", { port: local.proxied!.advertised[0]! });
    reader = new Kafka({ brokers: local.brokers, logLevel: logLevel.NOTHING });
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.stop();
    await proxy?.close();
    await local?.stop();
  });

  async function sinkThroughProxy(prefix: string) {
    const topics = testTopics(prefix);
    const sink = createKafkaSink(
      KafkaSinkConfigSchema.parse({
        brokers: [`127.0.0.1:${proxy.port}`],
        topics,
        // One partition: every truck's records share it, so two trucks' batches get the same sequence numbers.
        partitions: 1,
        requestTimeoutMs: 1_500,
        connectionTimeoutMs: 1_000,
        metadataRefreshMs: 600_000,
      }),
      { logger: silentLogger },
    );
    sinks.push(sink);
    await sink.start();
    // A first batch that is answered: the producer has its id and its sequence numbers start from here.
    await sink.send(records("warm-up", 1, 1, topics.telemetry));
    return { sink, topic: topics.telemetry };
  }

  /** Sends while the answers are thrown away: the broker writes the batch, the sink sees kafkajs give up. */
  async function sendUnanswered(sink: KafkaSink, messages: OutMessage[]): Promise<void> {
    proxy.mute();
    try {
      await expect(sink.send(messages)).rejects.toMatchObject({ code: "FLEET_KAFKA" });
    } finally {
      proxy.unmute();
    }
  }

  const seqsOf = (values: (string | null)[], truckId: string) =>
    values
      .map((v) => JSON.parse(v ?? "{}") as { truckId?: string; seq?: number })
      .filter((r) => r.truckId === truckId)
      .map((r) => r.seq);

  it("a different batch after an unanswered one is written, not taken for the old one's duplicate", async () => {
    const { sink, topic } = await sinkThroughProxy("idem-other");
    await sendUnanswered(sink, records("truck-a", 1, 3, topic));
    // Another truck's three records, the same size as the unanswered batch, on the same partition.
    const deliveries = await sink.send(records("truck-b", 1, 3, topic));
    const read = await readTopic(reader, topic, 7, 30_000).catch(() => undefined);
    const values = (read ?? []).map((r) => r.value);
    // Every record Kafka acknowledged to the bridge is really in the log, at the offset Kafka named.
    expect(seqsOf(values, "truck-b"), "truck-b's acknowledged records in the log").toEqual([1, 2, 3]);
    for (const d of deliveries) expect(JSON.parse(read![Number(d.offset)]!.value!).truckId).toBe("truck-b");
    expect(seqsOf(values, "truck-a")).toEqual([1, 2, 3]);
  });

  it("the same batch retried after an unanswered one lands once, and later batches follow in order", async () => {
    const { sink, topic } = await sinkThroughProxy("idem-same");
    const batch = records("truck-a", 1, 3, topic);
    await sendUnanswered(sink, batch);
    // What the bridge's batcher does: the failed batch again, unchanged, then the next one.
    const again = await sink.send(batch);
    await sink.send(records("truck-a", 4, 6, topic));
    const read = await readTopic(reader, topic, 7, 30_000);
    // The broker recognised the retry (same producer id and sequence numbers): no duplicate, original offsets.
    expect(
      seqsOf(
        read.map((r) => r.value),
        "truck-a",
      ),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    expect(again.map((d) => d.offset)).toEqual(["1", "2", "3"]);
  });
});
