import { z } from "zod";
import { parseConfig } from "../../common/config.ts";
import { TruckIdSchema } from "../../protocol/index.ts";

/** Options of a load run: many light MQTT connections publishing protocol payloads directly. */
export const LoadOptionsSchema = z
  .object({
    url: z.string().min(1).describe("Broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://bridge:8883."),
    truckIds: z.array(TruckIdSchema).min(1).max(100_000).describe("One MQTT connection per truck id."),
    password: z
      .union([z.string(), z.function({ input: [z.string()], output: z.string() })])
      .optional()
      .describe("The password for every truck, or a function truckId -> password."),
    ratePerTruck: z.number().positive().max(1000).default(1).describe("Records per second per truck."),
    batchSize: z.number().int().min(1).max(1000).default(1).describe("Records per MQTT publish."),
    recordsPerTruck: z.number().int().min(1).optional().describe("Stop after this many records per truck."),
    durationS: z.number().positive().optional().describe("Stop generating after this many seconds."),
    rampPerSec: z.number().positive().default(50).describe("New connections per second."),
    inflight: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe("Unacknowledged publishes per truck. 1 keeps order even when a publish is refused and resent."),
    maxPendingRecords: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe(
        "Per truck: records generated but not yet published. When full, generation pauses (seq stays gapless).",
      ),
    format: z.enum(["binary", "json"]).default("binary"),
    clean: z.boolean().default(true).describe("MQTT clean start; false keeps a persistent session (as agents do)."),
    keepaliveS: z.number().int().min(0).max(65535).default(60),
    seed: z.union([z.string(), z.number()]).default("load").describe("Seed of the simulated routes."),
    tickMs: z.number().int().min(5).max(1000).default(50),
    latencySamples: z.number().int().min(100).max(1_000_000).default(100_000).describe("Latency ring size."),
  })
  .strict()
  .refine((o) => o.recordsPerTruck !== undefined || o.durationS !== undefined, {
    message: "give recordsPerTruck or durationS, or the run never ends",
    path: ["recordsPerTruck"],
  });

export type LoadOptions = z.input<typeof LoadOptionsSchema>;
export type LoadConfig = z.output<typeof LoadOptionsSchema>;

export function parseLoadOptions(options: LoadOptions): LoadConfig {
  return parseConfig(LoadOptionsSchema, options, "sim load options");
}
