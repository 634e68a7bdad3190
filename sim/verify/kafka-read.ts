/**
 * Reads a Kafka topic from the beginning with a throw-away consumer group (no offsets committed, the group is
 * deleted afterwards), handing each message to `onMessage` in partition order, until `done()` says so, the
 * consumer has caught up with the end offsets taken when `done()` first held (so trailing duplicates are seen),
 * or the deadline passes.
 */
import { randomBytes } from "node:crypto";
import type { Kafka } from "kafkajs";
import { FleetError } from "../../common/errors.ts";
import { deleteConsumerGroup } from "../../common/kafka/read-to-end.ts";

export interface ReadMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface ReadOptions {
  kafka: Kafka;
  topic: string;
  onMessage(message: ReadMessage): void;
  /** When to stop reading (after catching up); undefined: stop at the end offsets of the start of the read. */
  done?: () => boolean;
  timeoutMs: number;
  /** How often done() is evaluated, ms. */
  checkEveryMs?: number;
}

export interface ReadResult {
  messages: number;
  timedOut: boolean;
}

interface Range {
  low: bigint;
  high: bigint;
}

async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, Range>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } catch (error) {
    throw new FleetError("FLEET_KAFKA", `cannot read the offsets of topic ${topic}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await admin.disconnect();
  }
}

export async function readTopicUntil(options: ReadOptions): Promise<ReadResult> {
  const { kafka, topic } = options;
  const groupId = `fleetsync-verify-${randomBytes(6).toString("hex")}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  const position = new Map<number, bigint>();
  let messages = 0;
  let target: Map<number, Range> | undefined = options.done ? undefined : await endOffsets(kafka, topic);
  const caughtUp = (t: Map<number, Range>) =>
    [...t].every(([p, { low, high }]) => high <= low || (position.get(p) ?? 0n) >= high);

  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          messages++;
          options.onMessage({ partition: batch.partition, offset: m.offset, key: m.key, value: m.value });
          position.set(batch.partition, BigInt(m.offset) + 1n);
        }
      },
    });
    const deadline = Date.now() + options.timeoutMs;
    const every = options.checkEveryMs ?? 200;
    for (;;) {
      if (!target && options.done?.()) target = await endOffsets(kafka, topic);
      if (target && caughtUp(target)) return { messages, timedOut: false };
      if (Date.now() > deadline) return { messages, timedOut: true };
      await new Promise((resolve) => setTimeout(resolve, every));
    }
  } finally {
    await consumer.disconnect();
    await deleteConsumerGroup(kafka, groupId);
  }
}
