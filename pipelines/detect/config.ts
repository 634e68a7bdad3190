/**
 * The detect pipeline's configuration (`fleetsync detect --config FILE`, or flags). Validated once at start; the
 * error names the field. The field docs are the configuration reference (docs/pipelines.md, "detect").
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { ALERTS_TOPIC } from "../../protocol/alerts.ts";
import { parseConfig, PIPELINE_INPUT_TOPICS, PipelineKafkaSchema, readConfigJson } from "../runtime/config.ts";

/**
 * One id per running instance: members of one deployment share a configuration file, and with one id between them the
 * second to start fenced the first (its commits failed with "an old epoch" from then on). The host names the machine
 * (or pod) in the broker's transaction listings; the random part tells two instances on one host apart.
 */
function instanceTransactionalId(): string {
  return `fleetsync-detect.${hostname()}.${randomBytes(4).toString("hex")}`;
}

const minutes = (doc: string, fallback: number) => z.number().positive().max(10_080).default(fallback).describe(doc);

export const DetectorThresholdsSchema = z
  .object({
    idling: z
      .object({
        minutes: minutes("Engine running and not moving for at least this long (event time) opens the alert.", 20),
        speedKmh: z.number().min(0).max(50).default(3).describe("Below this speed the truck counts as not moving."),
        radiusM: z
          .number()
          .positive()
          .max(10_000)
          .default(50)
          .describe("Staying within this distance of where it stopped counts as not moving (GPS drift)."),
      })
      .strict()
      .prefault({}),
    silent: z
      .object({
        minutes: minutes("A truck whose last record said moving or engine on, silent this long (wall clock).", 10),
        sweepIntervalMs: z.number().int().min(100).max(600_000).default(5_000).describe("How often the sweep runs."),
      })
      .strict()
      .prefault({}),
    fuel: z
      .object({
        dropPct: z
          .number()
          .positive()
          .max(100)
          .default(5)
          .describe("A fall of more than this many percentage points while parked opens a fuel-drop alert."),
        windowMinutes: minutes("... within this long (event time).", 10),
        refuelPct: z
          .number()
          .positive()
          .max(100)
          .default(5)
          .describe("A rise of more than this many percentage points while stationary is reported as a refuel."),
        radiusM: z
          .number()
          .positive()
          .max(10_000)
          .default(100)
          .describe(
            "With no level reported while parked (J1939: the engine ECU is silent with the ignition off), the level " +
              "at the stop is compared with the first after the next start if the truck stayed within this distance.",
          ),
      })
      .strict()
      .prefault({}),
    geofence: z
      .object({
        file: z.string().min(1).optional().describe("GeoJSON FeatureCollection of Polygon/MultiPolygon features."),
        dwellMinutes: z
          .number()
          .positive()
          .max(100_000)
          .optional()
          .describe("Default dwell limit for fences without a `dwellMinutes` property (none: no dwell alerts)."),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const DetectConfigSchema = z
  .object({
    groupId: z.string().min(1).default("fleetsync-detect").describe("The detect pipeline's consumer group."),
    kafka: PipelineKafkaSchema,
    topics: z
      .object({
        ...PIPELINE_INPUT_TOPICS,
        alerts: z.string().min(1).default(ALERTS_TOPIC).describe("Where alerts go (created when missing)."),
        changelog: z
          .string()
          .min(1)
          .default("fleet.detect-state")
          .describe("Compacted topic holding each truck's detector state and the consumer positions (created)."),
      })
      .strict()
      .prefault({}),
    createTopics: z
      .object({
        partitions: z.number().int().min(1).max(1000).default(3).describe("Partitions of a new alerts topic."),
        replicationFactor: z.number().int().min(1).max(7).default(1),
      })
      .strict()
      .prefault({})
      .describe("How the alerts and changelog topics are created when they do not exist."),
    transactionalId: z
      .string()
      .min(1)
      .default(instanceTransactionalId)
      .describe(
        "Kafka transactional id; unique per running instance (two with one id fence each other, and the fenced one " +
          "commits nothing more). Default: `fleetsync-detect.<host>.<random>`, a new one at each start. Pin it per " +
          "instance (a StatefulSet's pod name) so a restarted instance fences its predecessor at once: a hung old " +
          "process can then commit nothing, and a crashed one's open transaction is aborted at the restart instead " +
          "of holding read_committed readers back until it times out.",
      ),
    fromBeginning: z
      .boolean()
      .default(true)
      .describe("Where a group with no committed position starts: true = the topics' earliest record."),
    fetchBytes: z
      .number()
      .int()
      .positive()
      .default(4_194_304)
      .describe(
        "Bytes fetched per partition: the cap on one batch, and so on one checkpoint transaction (kafkajs caps a " +
          "whole fetch at 10 MB). Bigger batches share one transaction's round trips among more records.",
      ),
    partitionsConsumedConcurrently: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe("Partitions handled side by side; their batches share one checkpoint transaction (group commit)."),
    detectors: DetectorThresholdsSchema.prefault({}),
    maxTrucksPerPartition: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe("Trucks kept per partition (when full: the longest unseen is evicted and its state dropped)."),
    evictAfterHours: z
      .number()
      .positive()
      .default(168)
      .describe("A truck with no record for this long (Kafka time) starts afresh and its state is dropped."),
    http: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65_535).default(8092),
      })
      .strict()
      .prefault({})
      .describe("Operations endpoint: /metrics, /healthz, /readyz."),
  })
  .strict();

export type DetectConfig = z.infer<typeof DetectConfigSchema>;
export type DetectConfigInput = z.input<typeof DetectConfigSchema>;
export type DetectorThresholds = DetectConfig["detectors"];

export function parseDetectConfig(input: unknown, source = "detect configuration"): DetectConfig {
  return parseConfig(DetectConfigSchema, input, source);
}

export async function loadDetectConfig(file: string): Promise<DetectConfig> {
  return parseDetectConfig(await readConfigJson(file), file);
}
