/** Kafka helpers for integration tests: the run's brokers, per-test topic names, and reading a topic back. */
import { randomBytes } from "node:crypto";
import { type IHeaders, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { inject } from "vitest";
import { deleteConsumerGroup, readToEnd as readTopicToEnd } from "../../common/kafka/read-to-end.ts";
import { waitFor } from "./wait.ts";

export function kafkaBrokers(): string[] {
  return inject("kafkaBrokers");
}

export function testKafka(clientId = "fleetsync-test"): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId, logLevel: logLevel.NOTHING });
}

/** A topic name no other test uses, so tests never see each other's records. */
export function uniqueTopic(prefix: string): string {
  return `test.${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString("hex")}`;
}

export async function createTopics(kafka: Kafka, topics: { topic: string; partitions?: number }[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions ?? 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Removes a test's topics afterwards; best effort, so a cleanup problem never hides the test's own result. */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics });
  } catch {
    // Left-over test topics are harmless: every test uses its own names.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function toReadRecord(partition: number, message: KafkaMessage): ReadRecord {
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString("utf8") ?? null,
    value: message.value?.toString("utf8") ?? null,
    headers: headersToStrings(message.headers),
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/**
 * Waits until every broker answers metadata for `topic` with a leader for each partition. A topic a bridge or
 * pipeline has just created is known to the controller before the brokers' metadata caches have it, and kafkajs'
 * `subscribe` fails at once (UNKNOWN_TOPIC_OR_PARTITION) instead of retrying: seen on a busy machine.
 */
export async function waitForTopic(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics[0]?.partitions ?? [];
        return partitions.length > 0 && partitions.every((p) => p.leader >= 0);
      },
      `metadata of ${topic}`,
      { timeoutMs, intervalMs: 100 },
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a topic from the beginning until `enough(records)` holds (or the deadline passes), then stops. Tests that
 * share a topic wait for the records they care about. Returns the records in per-partition offset order.
 */
export async function readUntil(
  kafka: Kafka,
  topic: string,
  enough: (records: ReadRecord[]) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<ReadRecord[]> {
  await waitForTopic(kafka, topic, timeoutMs);
  const groupId = `reader.${topic}.${randomBytes(6).toString("hex")}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // Nothing committed and the group deleted after: a test run left one group per read behind, kept for days
      // (offsets.retention.minutes) on the shared broker.
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        records.push(toReadRecord(partition, message));
      },
    });
    await waitFor(() => enough(records), `${what} on ${topic}`, { timeoutMs });
  } finally {
    await consumer.disconnect();
    await deleteConsumerGroup(kafka, groupId);
  }
  return records;
}

/** Reads a topic from the beginning until `count` records have arrived. */
export function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 60_000): Promise<ReadRecord[]> {
  return readUntil(kafka, topic, (records) => records.length >= count, `${count} records`, timeoutMs);
}

/**
 * Every record of a topic, read (read_committed) to the end it had when the call began: for topics written in
 * transactions, where offsets include markers and "N records" is not known in advance.
 */
export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  await readTopicToEnd(kafka, topic, (message, partition) => records.push(toReadRecord(partition, message)), {
    groupPrefix: "reader",
    timeoutMs,
  });
  return records;
}
