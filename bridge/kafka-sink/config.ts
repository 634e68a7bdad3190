/** The bridge's Kafka settings: the connection (common/kafka, shared with the pipelines), topics and producer. */
import { z } from "zod";
import { KafkaConnectionFields } from "../../common/kafka/connection.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";

export const KafkaTopicsSchema = z
  .object({
    telemetry: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.telemetry).describe("Telemetry records, key = truck id."),
    events: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.events).describe("Event records, key = truck id."),
    status: z
      .string()
      .min(1)
      .default(DEFAULT_KAFKA_TOPICS.status)
      .describe("Latest online/offline state per truck (compacted)."),
    deadletter: z
      .string()
      .min(1)
      .default(DEFAULT_KAFKA_TOPICS.deadletter)
      .describe("Payloads that could not be accepted."),
    latest: z
      .string()
      .min(1)
      .default(DEFAULT_KAFKA_TOPICS.latest)
      .describe("Each truck's current state, sent at once on reconnect before its backlog (compacted)."),
  })
  .strict();

export const KafkaSinkConfigSchema = z
  .object({
    ...KafkaConnectionFields,
    clientId: z.string().min(1).default("fleetsync-bridge"),
    topics: KafkaTopicsSchema.prefault({}),
    createTopics: z
      .boolean()
      .default(true)
      .describe(
        "Create missing topics at start and whenever one vanishes (admin API); fleet.status and fleet.latest " +
          "with cleanup.policy=compact. Off: a missing topic makes the bridge not ready, its records wait unacknowledged.",
      ),
    partitions: z
      .number()
      .int()
      .positive()
      .default(12)
      .describe("Partitions of topics the bridge creates. Never lower it later: keys would move (per-truck order)."),
    replicationFactor: z
      .number()
      .int()
      .min(-1)
      .refine((n) => n !== 0, "0 copies is not a replication factor (use -1 for the broker's default)")
      .default(3)
      .describe(
        "Replication factor of topics the bridge creates; -1 = the broker's default.replication.factor. A cluster " +
          "with fewer brokers gets one copy per broker (logged as a warning); 3 or more also sets the topic's " +
          "min.insync.replicas to 2. The ready line and the log say what the topics got.",
      ),
    metadataRefreshMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe(
        "How often the topics' partition counts are read again (also after any error that suggests a change). " +
          "A changed count is logged as an error, counted and shown on /readyz; keys then move (docs/bridge.md).",
      ),
    ackTimeoutMs: z.number().int().positive().default(30_000).describe("acks=all wait on the broker side."),
  })
  .strict();

export type KafkaTopics = z.infer<typeof KafkaTopicsSchema>;
export type KafkaSinkConfig = z.infer<typeof KafkaSinkConfigSchema>;
