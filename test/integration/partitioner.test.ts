/**
 * The partitioning promise backend teams rely on (design, promise 2): a record keyed by truck id lands on the same
 * partition whether kafkajs (the bridge) or Kafka's own Java client produced it, so Java, Go and Kafka Streams
 * consumers that co-partition by truck id agree with us. The reference is the console producer from the same
 * Apache Kafka jars the broker runs, i.e. the Java client's default partitioner (murmur2 of the key bytes).
 */
import { spawn } from "node:child_process";
import { javaCompatiblePartitioner } from "../../common/kafka/partitions.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaClasspath } from "../../deploy/kafka/local-kafka.ts";
import { createTopics, kafkaBrokers, readTopic, testKafka, uniqueTopic, deleteTopics } from "../support/kafka.ts";

const PARTITIONS = 12;
const KEYS = Array.from({ length: 1500 }, (_, i) => (i % 3 === 0 ? `truck-${i}` : `T${(i * 7919).toString(36)}_${i}`));

async function produceWithJavaConsoleProducer(topic: string, lines: string[]): Promise<void> {
  const classpath = await kafkaClasspath();
  const child = spawn(
    "java",
    [
      "-cp",
      classpath,
      "org.apache.kafka.tools.ConsoleProducer",
      "--bootstrap-server",
      kafkaBrokers().join(","),
      "--topic",
      topic,
      "--property",
      "parse.key=true",
      "--property",
      "key.separator=|",
    ],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin.end(`${lines.join("\n")}\n`);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`console producer exited with ${code}: ${stderr}`);
}

describe("partitioner compatibility with the Java client", () => {
  const kafka = testKafka("partitioner-test");
  const fromKafkajs = uniqueTopic("partition-kafkajs");
  const fromJava = uniqueTopic("partition-java");

  beforeAll(async () => {
    await createTopics(kafka, [
      { topic: fromKafkajs, partitions: PARTITIONS },
      { topic: fromJava, partitions: PARTITIONS },
    ]);
  });

  afterAll(async () => {
    await deleteTopics(kafka, [fromKafkajs, fromJava]);
  });

  it(`puts ${KEYS.length} string keys on the same partitions as Kafka's Java producer`, async () => {
    // The producers' setup (bridge, detect): our Java-compatible partitioner (common/kafka/partitions.ts).
    const producer = kafka.producer({ createPartitioner: javaCompatiblePartitioner, idempotent: true });
    await producer.connect();
    await producer.send({ topic: fromKafkajs, acks: -1, messages: KEYS.map((key, i) => ({ key, value: String(i) })) });
    await producer.disconnect();

    await produceWithJavaConsoleProducer(
      fromJava,
      KEYS.map((key, i) => `${key}|${i}`),
    );

    const [ours, theirs] = await Promise.all([
      readTopic(kafka, fromKafkajs, KEYS.length),
      readTopic(kafka, fromJava, KEYS.length),
    ]);
    const partitionOf = (records: typeof ours) => new Map(records.map((r) => [r.key, r.partition]));
    const oursByKey = partitionOf(ours);
    const theirsByKey = partitionOf(theirs);

    expect(oursByKey.size).toBe(KEYS.length);
    expect(theirsByKey.size).toBe(KEYS.length);
    const disagreements = KEYS.filter((key) => oursByKey.get(key) !== theirsByKey.get(key));
    expect(disagreements).toEqual([]);
    // Agreement must not be trivial: the keys spread over every partition.
    expect(new Set(oursByKey.values()).size).toBe(PARTITIONS);
  });
});
