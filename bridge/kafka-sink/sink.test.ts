/**
 * The sink's own logic against a kafkajs double (admin + producer): per-message offsets, a partition Kafka did not
 * answer for, producer recreation after a fatal sequence error, and a topic that does not exist. The same paths
 * against a real Kafka are in test/integration/bridge/topic-changes.test.ts and kafka-down.test.ts.
 */
import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { KeyPartitioner } from "../../common/kafka/partitions.ts";
import { silentLogger } from "../../common/log.ts";
import { KafkaSinkConfigSchema } from "./config.ts";
import { createKafkaSink } from "./sink.ts";

interface SentBatch {
  topicMessages: { topic: string; messages: { key: string; partition: number }[] }[];
}

/** A kafkajs double: topics with partition counts; `answer` decides each sendBatch's response. */
function kafkaDouble(topics: Map<string, number>) {
  const sent: SentBatch[] = [];
  let producers = 0;
  let answer: (batch: SentBatch) => unknown = (batch) =>
    batch.topicMessages.flatMap(({ topic, messages }) =>
      [...new Set(messages.map((m) => m.partition))].map((partition) => ({
        topicName: topic,
        partition,
        errorCode: 0,
        baseOffset: String(1000 * partition),
      })),
    );
  const unknownTopic = () =>
    Object.assign(new Error("This server does not host this topic-partition"), { type: "UNKNOWN_TOPIC_OR_PARTITION" });
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      describeCluster: async () => ({ brokers: [{ nodeId: 0 }] }),
      createTopics: async () => true,
      fetchTopicMetadata: async ({ topics: [topic] }: { topics: string[] }) => {
        const count = topics.get(topic!);
        if (count === undefined) throw unknownTopic();
        return {
          topics: [
            { name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionId: i, replicas: [0] })) },
          ],
        };
      },
    }),
    producer: () => {
      producers += 1;
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        sendBatch: async (batch: SentBatch) => {
          sent.push(batch);
          return answer(batch);
        },
      };
    },
  };
  return {
    kafka: kafka as unknown as Pick<Kafka, "admin" | "producer">,
    sent,
    producers: () => producers,
    answerWith(next: (batch: SentBatch) => unknown) {
      answer = next;
    },
  };
}

const TOPICS = { telemetry: "t", events: "e", status: "s", deadletter: "d", latest: "l" };
const config = (extra: Record<string, unknown> = {}) =>
  KafkaSinkConfigSchema.parse({ brokers: ["k:9092"], topics: TOPICS, ...extra });
const message = (key: string) => ({ topic: "t", key, value: "{}", headers: {} });

function sinkWith(counts: Record<string, number> = { t: 4, e: 4, s: 1, d: 1, l: 1 }, extra = {}) {
  const double = kafkaDouble(new Map(Object.entries(counts)));
  const sink = createKafkaSink(config(extra), { logger: silentLogger, kafka: double.kafka });
  return { sink, ...double };
}

describe("Kafka sink (kafkajs double)", () => {
  it("sends each key to its Java-compatible partition and returns each message's own offset", async () => {
    const { sink, sent } = sinkWith();
    const keys = ["a", "b", "a", "c", "a"];
    const deliveries = await sink.send(keys.map(message));
    const partitioner = new KeyPartitioner("t", 4);
    expect(deliveries.map((d) => d.partition)).toEqual(keys.map((k) => partitioner.partitionOf(k)));
    // Base offset of the partition + the message's index among this batch's messages for that partition.
    const seen = new Map<number, number>();
    const expected = keys.map((k) => {
      const partition = partitioner.partitionOf(k);
      const index = seen.get(partition) ?? 0;
      seen.set(partition, index + 1);
      return String(1000 * partition + index);
    });
    expect(deliveries.map((d) => d.offset)).toEqual(expected);
    expect(new Set(deliveries.map((d) => `${d.partition}/${d.offset}`)).size).toBe(keys.length);
    expect(sent).toHaveLength(1);
    await sink.stop();
  });

  it("fails a batch Kafka gave no offset for (a skipped partition), and starts a new producer for the retry", async () => {
    const { sink, producers, answerWith } = sinkWith();
    await sink.send([message("a")]);
    expect(producers()).toBe(1);
    answerWith(() => []);
    const error = await sink.send([message("a")]).catch((e: unknown) => e);
    expect(isFleetError(error, "FLEET_KAFKA")).toBe(true);
    expect((error as Error).message).toContain("no offset");
    answerWith((batch) => [
      { topicName: "t", partition: batch.topicMessages[0]!.messages[0]!.partition, errorCode: 0, baseOffset: "5" },
    ]);
    await sink.send([message("a")]);
    expect(producers()).toBe(2);
    await sink.stop();
  });

  it("replaces the idempotent producer after a fatal sequence error (classified by kafkajs' error type)", async () => {
    const { sink, producers, answerWith } = sinkWith();
    await sink.send([message("a")]);
    answerWith(() => {
      throw Object.assign(new Error("retries exhausted"), {
        cause: Object.assign(new Error("broker said so"), { type: "OUT_OF_ORDER_SEQUENCE_NUMBER" }),
      });
    });
    expect(isFleetError(await sink.send([message("a")]).catch((e: unknown) => e), "FLEET_KAFKA")).toBe(true);
    answerWith(() => [
      { topicName: "t", partition: new KeyPartitioner("t", 4).partitionOf("a"), errorCode: 0, baseOffset: "1" },
    ]);
    await sink.send([message("a")]);
    expect(producers()).toBe(2);
    await sink.stop();
  });

  it("refuses a batch for a topic that does not exist (createTopics off) with FLEET_KAFKA_TOPIC naming it", async () => {
    const { sink, sent } = sinkWith({ e: 4, s: 1, d: 1, l: 1 }, { createTopics: false });
    const error = await sink.send([message("a")]).catch((e: unknown) => e);
    expect(isFleetError(error, "FLEET_KAFKA_TOPIC")).toBe(true);
    expect((error as { details: { topics: string[] } }).details.topics).toEqual(["t"]);
    expect(sent).toHaveLength(0);
    const health = await sink.health();
    expect(health.ready).toBe(false);
    expect(health.reasons.join()).toContain("topic t does not exist");
    await sink.stop();
  });
});
