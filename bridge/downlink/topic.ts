/** fleet.config is compacted: Kafka keeps each truck's latest desired config (and its tombstone, for a while). */
import type { Admin } from "kafkajs";
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
