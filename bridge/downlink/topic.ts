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

// The downlink knows it has caught up the same way a one-off read knows it is done.
export { lastOffsets, whenReadTo } from "../../common/kafka/read-to-end.ts";
