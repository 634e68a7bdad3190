/**
 * Reading a topic whole, up to where it ended when asked: the checkpoint's changelog at start, `fleetsync config`'s
 * desired and reported configs, the tests' and benches' read-backs. The bridge's downlink, a long-lived consumer, uses
 * the same two parts (lastOffsets, whenReadTo) to know when it has caught up.
 *
 * kafkajs 2.2.4 reads only through a consumer group: it has no manual assignment (tulios/kafkajs#373, open; #853:
 * "not possible at this time"). A one-off read therefore joins a throwaway group, commits nothing, and deletes the
 * group when it is done. Kafka would otherwise keep an empty group with no offsets until its next retention sweep
 * (`offsets.retention.check.interval.ms`, 10 minutes by default), and `kafka-consumer-groups --list` filled up with
 * one group per `fleetsync config` call.
 */
import { randomBytes } from "node:crypto";
import type { Admin, Consumer, Kafka, KafkaMessage } from "kafkajs";
import { FleetError } from "../errors.ts";

/**
 * Per partition, the offset of the last record the topic holds now (empty partitions left out): a reader that has
 * seen each of them has read everything written before it asked.
 */
export async function lastOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const last = new Map<number, bigint>();
  for (const p of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(p.high) > BigInt(p.low)) last.set(p.partition, BigInt(p.high) - 1n);
  }
  return last;
}

/**
 * Calls `done` once `consumer` has read every partition of `ends` (from lastOffsets) up to that offset, and returns
 * the listener's remover. It goes by how far the consumer got, not by being handed the record at the end offset: that
 * offset may hold no record a consumer is ever handed. A transactional producer's commit or abort marker is a control
 * record that kafkajs never passes to eachMessage (nor are aborted records); kafkajs reports a batch of only those as
 * processed, with the batch's last offset, for exactly this reason (runner.js, "resolve and auto-commit to ensure the
 * consumer can move forward"). `ends` is the caller's own copy: it is emptied as partitions are read.
 */
export function whenReadTo(consumer: Consumer, topic: string, ends: Map<number, bigint>, done: () => void): () => void {
  return consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = ends.get(payload.partition);
    if (payload.topic !== topic || end === undefined || BigInt(payload.lastOffset) < end) return;
    ends.delete(payload.partition);
    if (ends.size === 0) done();
  });
}

export interface ReadToEndOptions {
  /**
   * Names the throwaway group (`<groupPrefix>.<topic>.<random>`): who read what is readable in
   * `kafka-consumer-groups --list` while a read runs.
   */
  groupPrefix: string;
  /** A topic that does not exist reads as empty instead of failing. */
  missingIsEmpty?: boolean;
  /** Give up (FLEET_TIMEOUT) when the end is not reached in this time. */
  timeoutMs: number;
}

/**
 * Calls `each` for every record of `topic` (read_committed) up to the end the topic had when called, in offset order
 * per partition; records written after that are left out.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  each: (message: KafkaMessage, partition: number) => void,
  options: ReadToEndOptions,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (options.missingIsEmpty && !(await admin.listTopics()).includes(topic)) return;
    const ends = await lastOffsets(admin, topic);
    if (ends.size === 0) return;
    const groupId = `${options.groupPrefix}.${topic}.${randomBytes(6).toString("hex")}`;
    try {
      await readWithGroup(kafka, groupId, topic, ends, each, options.timeoutMs);
    } finally {
      // After the consumer left (its disconnect sends LeaveGroup), so the group is empty and can go. A group that
      // never formed (the consumer failed before joining) is not there to delete: nothing left behind either way.
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}

async function readWithGroup(
  kafka: Kafka,
  groupId: string,
  topic: string,
  ends: Map<number, bigint>,
  each: (message: KafkaMessage, partition: number) => void,
  timeoutMs: number,
): Promise<void> {
  // A short fetch wait: the last fetch of a partition already read would otherwise hold the read for 5 s (default).
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new FleetError("FLEET_TIMEOUT", `${topic} was not read to its end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      whenReadTo(consumer, topic, new Map(ends), resolve);
      consumer
        .subscribe({ topic, fromBeginning: true })
        .then(() =>
          consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = ends.get(batch.partition);
              if (end === undefined) return;
              try {
                for (const message of batch.messages) {
                  // Written after we asked: not part of this read.
                  if (BigInt(message.offset) > end) return;
                  each(message, batch.partition);
                }
              } catch (error) {
                // The caller's error ends the read; thrown to kafkajs it would restart the consumer and re-read.
                reject(error);
              }
            },
          }),
        )
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
}

/**
 * Deletes a throwaway reader's consumer group once it has disconnected (readers that keep their own consumer:
 * `fleetsync verify`, the tests' readUntil). Best effort: a leftover empty group expires on its own, which is not
 * worth failing a verification or a test for.
 */
export async function deleteConsumerGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // See above: best effort.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
