/**
 * The sink's topic bookkeeping over the admin API: which topics exist, each one's partition count (and so each
 * key's partition), creating missing topics when configured to, and noticing when a count changes.
 *
 * Partition counts are not fixed for the process lifetime (issue 13): a topic can be re-created with another count,
 * or grown. A changed count is logged as an error, counted, shown on /readyz, and followed: keys move to the
 * partitions that exist now (docs/bridge.md, "Partition count changes").
 */
import type { Admin, ITopicConfig } from "kafkajs";
import { FleetError } from "../../common/errors.ts";
import { classifyKafkaError } from "../../common/kafka/errors.ts";
import { KeyPartitioner } from "../../common/kafka/partitions.ts";
import type { Logger } from "../../common/log.ts";
import type { KafkaSinkConfig } from "./config.ts";
import { replicationPlan } from "./replication.ts";

const MAX_NOTES = 10;
/** How long a topic just created (by us or by another bridge) may take to appear in a broker's metadata. */
const CREATED_METADATA_WAIT_MS = 10_000;

export interface KafkaSinkHooks {
  /** A topic's partition count, whenever it is learned. */
  onPartitions?(topic: string, count: number): void;
  /** A topic's replication factor (its partitions' fewest replicas), whenever it is learned. */
  onReplicas?(topic: string, replicas: number): void;
  onPartitionsChanged?(topic: string, from: number, to: number): void;
}

export interface TopicAdminDeps {
  logger: Logger;
  hooks?: KafkaSinkHooks;
  /** What the producer knows of the topics may be out of date now (created, back, count changed). */
  onProducerStale(): void;
}

export interface TopicAdmin {
  /** The topic's partitioner, once its partition count is known and the topic exists. */
  partitioner(topic: string): KeyPartitioner | undefined;
  /** Whether anything is known yet (a count or a missing topic). */
  readonly known: boolean;
  isMissing(topic: string): boolean;
  /** Why not ready: one line per missing topic. */
  missingReasons(): string[];
  /** Partition count changes, the latest MAX_NOTES. */
  notes(): string[];
  refreshTopic(client: Admin, topic: string): Promise<void>;
  refreshAll(client: Admin): Promise<void>;
  /** FLEET_KAFKA_TOPIC for `topics` (details.topics names them). */
  topicError(topics: string[]): FleetError;
}

export function createTopicAdmin(config: KafkaSinkConfig, deps: TopicAdminDeps): TopicAdmin {
  const { logger } = deps;
  const hooks = deps.hooks ?? {};
  const partitioning = new Map<string, KeyPartitioner>();
  /** Topics that do not exist (createTopics off), with the reason /readyz shows. */
  const missing = new Map<string, string>();
  const notes: string[] = [];

  async function createTopics(client: Admin, topics: string[]): Promise<void> {
    const plan = replicationPlan(config.replicationFactor, (await client.describeCluster()).brokers.length);
    if (plan.reduced) logger.warn({ topics }, plan.reduced);
    const wanted: ITopicConfig[] = topics.map((topic) => ({
      topic,
      numPartitions: config.partitions,
      replicationFactor: plan.replicationFactor,
      configEntries: [
        // The status and latest topics keep only the newest record per truck: log compaction.
        ...(topic === config.topics.status || topic === config.topics.latest
          ? [{ name: "cleanup.policy", value: "compact" }]
          : []),
        ...(plan.minInsyncReplicas ? [{ name: "min.insync.replicas", value: String(plan.minInsyncReplicas) }] : []),
      ],
    }));
    await client.createTopics({ topics: wanted, waitForLeaders: true }).catch((error: unknown) => {
      const kind = classifyKafkaError(error);
      // Another bridge may have created them a moment ago (TOPIC_ALREADY_EXISTS): fine.
      if (kind.topicExists) return;
      // Created, but the broker asked while waiting for leaders has not learned of it yet: on a cluster the
      // controller spreads topic metadata to the brokers asynchronously. refreshTopic waits for it.
      if (kind.topicMissing) return;
      throw error;
    });
    logger.info({ topics, replicationFactor: plan.replicationFactor }, "created Kafka topics");
  }

  /** A topic's partition count, or undefined when the topic does not exist. */
  async function partitionCount(client: Admin, topic: string): Promise<number | undefined> {
    try {
      const metadata = await client.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      if (partitions.length > 0) hooks.onReplicas?.(topic, Math.min(...partitions.map((p) => p.replicas.length)));
      return partitions.length || undefined;
    } catch (error) {
      if (classifyKafkaError(error).topicMissing) return undefined;
      throw error;
    }
  }

  /** A just-created topic's partition count, once every broker we ask knows it (bounded: then undefined). */
  async function createdPartitionCount(client: Admin, topic: string): Promise<number | undefined> {
    const deadline = Date.now() + CREATED_METADATA_WAIT_MS;
    for (;;) {
      const count = await partitionCount(client, topic);
      if (count !== undefined || Date.now() > deadline) return count;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Learns a topic's partition count again: re-creates a vanished topic when configured to, marks it missing
   * otherwise, and reports a changed count (the policy: follow it; keys move, docs/bridge.md).
   */
  async function refreshTopic(client: Admin, topic: string): Promise<void> {
    let count = await partitionCount(client, topic);
    if (count === undefined && config.createTopics) {
      await createTopics(client, [topic]);
      if (partitioning.has(topic))
        logger.error({ topic }, "a topic the bridge writes to had vanished; created it again");
      deps.onProducerStale();
      count = await createdPartitionCount(client, topic);
    }
    if (count === undefined) {
      const reason = `topic ${topic} does not exist (kafka.createTopics is off)`;
      if (!missing.has(topic)) logger.error({ topic }, reason);
      missing.set(topic, reason);
      return;
    }
    if (missing.delete(topic)) {
      logger.warn({ topic }, "topic exists again");
      deps.onProducerStale();
    }
    const known = partitioning.get(topic);
    if (known?.count === count) return;
    if (known) {
      const note = `${topic}: partitions changed from ${known.count} to ${count} at ${new Date().toISOString()}`;
      logger.error(
        { topic, from: known.count, to: count },
        "partition count changed: trucks' records now go to other partitions (docs/bridge.md)",
      );
      notes.push(note);
      if (notes.length > MAX_NOTES) notes.shift();
      hooks.onPartitionsChanged?.(topic, known.count, count);
      deps.onProducerStale();
    }
    partitioning.set(topic, new KeyPartitioner(topic, count));
    hooks.onPartitions?.(topic, count);
  }

  return {
    partitioner: (topic) => (missing.has(topic) ? undefined : partitioning.get(topic)),
    get known() {
      return partitioning.size + missing.size > 0;
    },
    isMissing: (topic) => missing.has(topic),
    missingReasons: () => [...missing.values()],
    notes: () => [...notes],
    refreshTopic,
    async refreshAll(client) {
      for (const topic of Object.values(config.topics)) await refreshTopic(client, topic);
    },
    topicError(topics) {
      return new FleetError("FLEET_KAFKA_TOPIC", topics.map((t) => missing.get(t) ?? t).join("; "), {
        details: { topics },
      });
    },
  };
}
