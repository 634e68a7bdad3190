/**
 * A pipeline's runtime configuration: which topics its consumer group reads, where it starts, how it retries a
 * failing handler, and its operations endpoint. Validated once at start; the error names the field.
 */
import { z } from "zod";
import { parseConfig, readConfigJson } from "../../common/config.ts";
import { KafkaConnectionFields } from "../../common/kafka/connection.ts";
import type { Logger } from "../../common/log.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";

export const PipelineKafkaSchema = z
  .object({
    ...KafkaConnectionFields,
    clientId: z.string().min(1).optional().describe("Kafka client id (default: the group id)."),
  })
  .strict();

/**
 * The contract topics a pipeline reads, each defaulting to its name in protocol/: one place for the map, history and
 * detect configurations (spread into their `topics` objects).
 */
export const PIPELINE_INPUT_TOPICS = {
  telemetry: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.telemetry),
  events: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.events),
  status: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.status),
};

/**
 * The topics a pipeline's configuration leaves at their default names (`field (topic)`) while it names others:
 * empty when it names none or every one. Each topic defaults on its own, so a configuration written for another
 * fleet's (or a test's) topics that leaves one out reads that one from production: the map given telemetry, events
 * and status read the production `fleet.latest` once the latest lane added that topic. `defaults` is the pipeline's
 * `topics` as its schema fills them in.
 */
export function topicsLeftAtDefault(
  topics: Readonly<Record<string, string>>,
  defaults: Readonly<Record<string, string>>,
): string[] {
  const fields = Object.keys(defaults);
  const atDefault = fields.filter((field) => topics[field] === defaults[field]);
  if (atDefault.length === fields.length) return [];
  return atDefault.map((field) => `${field} (${defaults[field]})`);
}

/**
 * Says at start, as a warning, which topics a pipeline reads or writes under their default names beside others it
 * was given. A warning, not an error: naming only the topic one changed is a valid configuration (each field is
 * documented with its default), but mixing one fleet's topics with another's is an easy mistake to make and a hard
 * one to see in the results.
 */
export function warnTopicsLeftAtDefault(
  log: Logger,
  topics: Readonly<Record<string, string>>,
  defaults: Readonly<Record<string, string>>,
): void {
  const left = topicsLeftAtDefault(topics, defaults);
  if (left.length === 0) return;
  log.warn(
    { topicsLeftAtDefault: left },
    `topics: ${left.join(", ")} keep their default names while other topics are named; ` +
      "name them too if this pipeline is meant for another set of topics",
  );
}

export const PipelineTopicsSchema = z
  .object({
    telemetry: z
      .string()
      .min(1)
      .optional()
      .describe(`Telemetry topic to read (contract: ${DEFAULT_KAFKA_TOPICS.telemetry}).`),
    events: z.string().min(1).optional().describe(`Events topic to read (contract: ${DEFAULT_KAFKA_TOPICS.events}).`),
    status: z.string().min(1).optional().describe(`Status topic to read (contract: ${DEFAULT_KAFKA_TOPICS.status}).`),
    alerts: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Alerts topic to read (contract: fleet.alerts). Optional at start: the detect pipeline creates it, so when it " +
          "does not exist yet the pipeline runs without it (a warning says so) and reads it once it exists (looked " +
          "for every 5 s; the group rejoins with it).",
      ),
    latest: z
      .string()
      .min(1)
      .optional()
      .describe(
        `Latest-state topic to read (contract: ${DEFAULT_KAFKA_TOPICS.latest}), compacted, read from its start like status. ` +
          "Optional at start: when it does not exist yet (a bridge older than the latest lane) the pipeline runs without it, " +
          "and reads it once it exists, as for alerts.",
      ),
  })
  .strict()
  .refine((t) => t.telemetry ?? t.events ?? t.status, {
    // alerts and latest alone are not enough: each is read only when it exists, so the pipeline might read nothing.
    message: "name telemetry, events or status (alerts and latest are read only when they exist)",
  });

export const PipelineRuntimeConfigSchema = z
  .object({
    name: z.string().min(1).max(64).describe("The pipeline's name in logs and metric labels."),
    groupId: z.string().min(1).describe("Consumer group id: one per pipeline, so each reads at its own pace."),
    kafka: PipelineKafkaSchema,
    topics: PipelineTopicsSchema,
    fromBeginning: z
      .boolean()
      .default(false)
      .describe("Where a group without committed offsets starts: true = earliest, false = latest."),
    historyMs: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "On assignment, start telemetry/events partitions no later than the offset at now - historyMs (0 = off). " +
          "A pipeline whose state lives in memory (the map) rebuilds it from this much recent history.",
      ),
    statusFromEarliest: z
      .boolean()
      .default(false)
      .describe(
        "On assignment, read the compacted status and latest topics from their start (the latest state of every truck).",
      ),
    partitionsConsumedConcurrently: z.number().int().min(1).max(64).default(1),
    commitIntervalMs: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe(
        "How often handled offsets are committed (also on a rebalance and on stop). A crash repeats at most this " +
          "long of handled batches (at least once); pipelines with an offset store are not affected.",
      ),
    maxBytesPerPartition: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe("Fetch size per partition: bounds one batch's memory (when full: the rest comes in the next fetch)."),
    retry: z
      .object({
        initialMs: z.number().int().positive().default(200),
        maxMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({})
      .describe("Backoff between deliveries of a batch whose handler failed (nothing of it is committed)."),
    inOrder: z
      .object({ maxTrucks: z.number().int().positive().default(100_000) })
      .strict()
      .prefault({})
      .describe("The protocol's in-order filter, one per topic and partition."),
  })
  .strict();

export type PipelineRuntimeConfig = z.infer<typeof PipelineRuntimeConfigSchema>;
export type PipelineRuntimeConfigInput = z.input<typeof PipelineRuntimeConfigSchema>;

export function parsePipelineRuntimeConfig(input: unknown, source = "pipeline configuration"): PipelineRuntimeConfig {
  return parseConfig(PipelineRuntimeConfigSchema, input, source);
}

/** The config helpers live in common/config.ts; re-exported for the pipelines that import them from here. */
export { parseConfig, readConfigJson };
