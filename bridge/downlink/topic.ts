/** fleet.config is compacted: Kafka keeps each truck's latest desired config (and its tombstone, for a while). */
import type { Admin, Consumer } from "kafkajs";
import { classifyKafkaError } from "../../common/kafka/errors.ts";

export async function ensureConfigTopic(
  admin: Admin,
  topic: string,
  options: { partitions: number; replicationFactor: number },
): Promise<void> {
  const brokers = (await admin.describeCluster()).brokers.length;
  const replicationFactor = options.replicationFactor === -1 ? -1 : Math.min(options.replicationFactor, brokers);
  await admin
    .createTopics({
      topics: [
        {
          topic,
          numPartitions: options.partitions,
          replicationFactor,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
      waitForLeaders: true,
    })
    .catch((error: unknown) => {
      if (classifyKafkaError(error).topicExists) return;
      throw error;
    });
}

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
