/**
 * `fleetsync history`'s configuration (`--config FILE`, or the environment). Validated once at start; the error
 * names the field. The field docs are the configuration reference (docs/history.md).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { FleetError } from "../../common/errors.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";
import { parseConfig } from "../../common/config.ts";
import { PipelineKafkaSchema } from "../runtime/config.ts";

export const HistoryConfigSchema = z
  .object({
    groupId: z.string().min(1).default("fleetsync-history").describe("The history pipeline's consumer group."),
    kafka: PipelineKafkaSchema,
    topics: z
      .object({
        telemetry: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.telemetry),
        events: z.string().min(1).default(DEFAULT_KAFKA_TOPICS.events),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        url: z.string().min(1).describe("PostgreSQL connection URL (postgres://user@host:port/db)."),
        connections: z
          .number()
          .int()
          .min(1)
          .max(32)
          .default(2)
          .describe("Connections (and partitions written at once); more only helps with many partitions."),
        statementTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(30_000)
          .describe("Server-side statement timeout: a stuck write fails and its batch comes again."),
        connectTimeoutMs: z.number().int().positive().default(5_000),
        probeIntervalMs: z
          .number()
          .int()
          .positive()
          .default(5_000)
          .describe("How often an idle pipeline checks the database, so /readyz tells an outage without records."),
      })
      .strict(),
    fetchBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe(
        "Bytes fetched per partition: the cap on one batch (about 2,000-3,000 records of 400 bytes). While the " +
          "database is down the pipeline holds one batch per partition and fetches nothing more (Kafka is the buffer).",
      ),
    fromBeginning: z
      .boolean()
      .default(true)
      .describe("Where a group with no stored position starts: true = the topics' earliest record (all history)."),
    retry: z
      .object({
        initialMs: z.number().int().positive().default(200),
        maxMs: z.number().int().positive().default(5_000),
      })
      .strict()
      .prefault({})
      .describe("Backoff between attempts at a batch the database refused."),
    http: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65_535).default(8091),
      })
      .strict()
      .prefault({})
      .describe("Operations endpoint: /metrics, /healthz, /readyz (503 with the reason while the database is down)."),
  })
  .strict();

export type HistoryConfig = z.infer<typeof HistoryConfigSchema>;
export type HistoryConfigInput = z.input<typeof HistoryConfigSchema>;

export function parseHistoryConfig(input: unknown, source = "history configuration"): HistoryConfig {
  return parseConfig(HistoryConfigSchema, input, source);
}

export async function loadHistoryConfig(file: string): Promise<HistoryConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new FleetError("FLEET_CONFIG_INVALID", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseHistoryConfig(json, file);
}
