/**
 * The live map's configuration (`fleetsync map --config FILE`, or flags). Validated once at start; the error names
 * the field. The field docs are the configuration reference (docs/pipelines.md).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { FleetError } from "../../common/errors.ts";
import { ALERTS_TOPIC } from "../../protocol/alerts.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";
import { parseConfig } from "../../common/config.ts";
import { PIPELINE_INPUT_TOPICS, PipelineKafkaSchema } from "../runtime/config.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export const MapConfigSchema = z
  .object({
    groupId: z.string().min(1).default("fleetsync-map").describe("The map's consumer group."),
    kafka: PipelineKafkaSchema,
    topics: z
      .object({
        ...PIPELINE_INPUT_TOPICS,
        alerts: z
          .string()
          .min(1)
          .default(ALERTS_TOPIC)
          .describe("The detect pipeline's alerts, shown in the event feed (read from when the topic exists)."),
        latest: z
          .string()
          .min(1)
          .default(DEFAULT_KAFKA_TOPICS.latest)
          .describe(
            "Each truck's current state (the latest lane): a truck back from an outage is shown where it is now while its backlog still drains on telemetry (read from when the topic exists).",
          ),
      })
      .strict()
      .prefault({}),
    historyMs: z
      .number()
      .int()
      .min(0)
      .default(600_000)
      .describe("Recent history read at start so a restarted map shows the fleet at once (default 10 minutes)."),
    http: z
      .object({
        host: z.string().default("127.0.0.1").describe("Bind address; anything but loopback needs a token."),
        port: z.number().int().min(0).max(65_535).default(8090),
        token: z
          .string()
          .min(16)
          .optional()
          .describe("Access token: open the page once as /?token=..., which sets a cookie for the page and socket."),
        tileUrl: z
          .string()
          .url()
          .optional()
          .describe("Optional raster tile server ({z}/{x}/{y}); without it the page draws its bundled world outline."),
      })
      .strict()
      .prefault({}),
    deltaIntervalMs: z
      .number()
      .int()
      .min(50)
      .max(5_000)
      .default(250)
      .describe("Coalescing interval: at most one update per truck per interval to each browser."),
    maxClientBufferBytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024)
      .describe(
        "A browser whose socket holds more unsent bytes skips intervals (when full: fewer updates, never more memory).",
      ),
    maxClients: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe("Browsers at once; when full, new sockets are refused."),
    trailPoints: z.number().int().min(0).max(1_000).default(30).describe("Positions kept per truck (drop-oldest)."),
    feedSize: z.number().int().positive().max(10_000).default(200).describe("Event feed entries kept (drop-oldest)."),
    maxTrucks: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe("Trucks kept (when full: the longest unseen goes)."),
    movingKmh: z.number().min(0).default(3).describe("Speed from which a truck counts as moving."),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!LOOPBACK.has(c.http.host) && c.http.token === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["http", "token"],
        message: `binding to ${c.http.host} (not loopback) needs an access token`,
      });
    }
  });

export type MapConfig = z.infer<typeof MapConfigSchema>;
export type MapConfigInput = z.input<typeof MapConfigSchema>;

export function parseMapConfig(input: unknown, source = "map configuration"): MapConfig {
  return parseConfig(MapConfigSchema, input, source);
}

export async function loadMapConfig(file: string): Promise<MapConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new FleetError("FLEET_CONFIG_INVALID", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseMapConfig(json, file);
}
