/**
 * What `fleetsync config` reads and writes in Kafka: the desired configs (fleet.config, compacted, key = truck id)
 * and what trucks reported (fleet.status). Both are read whole, up to where they ended when asked, through a
 * throwaway consumer group that commits nothing and is deleted afterwards (common/kafka/read-to-end.ts).
 */
import type { Kafka } from "kafkajs";
import { createKafkaClient } from "../common/kafka/connection.ts";
import { readToEnd } from "../common/kafka/read-to-end.ts";
import type { KafkaSecurity } from "../common/kafka/security.ts";
import { ensureConfigTopic } from "../bridge/downlink/index.ts";
import { type StatusRecord, StatusRecordSchema } from "../protocol/index.ts";

export interface ConfigKafkaOptions {
  brokers: string[];
  /** TLS and SASL from --kafka-config (the same file verify and replay read). */
  security?: KafkaSecurity;
  configTopic: string;
  statusTopic: string;
  /** Give up reading a topic after this long. */
  timeoutMs?: number;
}

export function configKafka(options: ConfigKafkaOptions): Kafka {
  return createKafkaClient({
    ...options.security,
    clientId: "fleetsync-config",
    brokers: options.brokers,
    connectionTimeoutMs: 3_000,
  });
}

/** Calls `each` for every record of `topic`, in offset order per partition, up to its end when called. */
export function readWhole(
  kafka: Kafka,
  topic: string,
  each: (key: string, value: Buffer | null, timestampMs: number) => void,
  timeoutMs = 30_000,
): Promise<void> {
  return readToEnd(
    kafka,
    topic,
    (message) => each(message.key?.toString("utf8") ?? "", message.value ?? null, Number(message.timestamp)),
    { groupPrefix: "fleetsync-config", missingIsEmpty: true, timeoutMs },
  );
}

/** Per truck, its desired config text (tombstones remove it). */
export async function readDesired(kafka: Kafka, options: ConfigKafkaOptions): Promise<Map<string, string>> {
  const desired = new Map<string, string>();
  await readWhole(
    kafka,
    options.configTopic,
    (key, value) => {
      if (value === null || value.length === 0) desired.delete(key);
      else desired.set(key, value.toString("utf8"));
    },
    options.timeoutMs,
  );
  return desired;
}

export interface Reported {
  /** The newest status record of the truck (the bridge's own online/offline records among them). */
  latest: StatusRecord;
  /** The newest status the agent itself sent with what it applied (the bridge's records carry no config fields). */
  config?: StatusRecord;
}

export async function readReported(kafka: Kafka, options: ConfigKafkaOptions): Promise<Map<string, Reported>> {
  const reported = new Map<string, Reported>();
  await readWhole(
    kafka,
    options.statusTopic,
    (key, value) => {
      if (!value) return;
      let parsed;
      try {
        parsed = StatusRecordSchema.safeParse(JSON.parse(value.toString("utf8")));
      } catch {
        return;
      }
      if (!parsed.success) return;
      const status = parsed.data;
      const known = reported.get(key);
      const hasConfig = status.appliedConfigVersion !== undefined || status.configRejected !== undefined;
      reported.set(key, {
        latest: status,
        ...(hasConfig ? { config: status } : known?.config ? { config: known.config } : {}),
      });
    },
    options.timeoutMs,
  );
  return reported;
}

/** Writes one desired config (or a tombstone), acks=all, creating the compacted topic when it is missing. */
export async function writeDesired(kafka: Kafka, topic: string, truckId: string, value: string | null): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureConfigTopic(admin, topic, { partitions: 12, replicationFactor: 3 });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: truckId, value }] });
  } finally {
    await producer.disconnect();
  }
}
