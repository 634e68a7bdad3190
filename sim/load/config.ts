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
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(5)
      .describe("MQTT 5 (as agents) or 3.1.1 (4), for brokers without MQTT 5 such as plain Aedes."),
    seed: z.union([z.string(), z.number()]).default("load").describe("Seed of the simulated routes."),
    tickMs: z.number().int().min(5).max(1000).default(50),
    latencySamples: z.number().int().min(100).max(1_000_000).default(100_000).describe("Latency ring size."),
    sourceAddresses: z
      .array(z.ipv4())
      .min(1)
      .optional()
      .describe(
        "Local addresses to connect from, truck i from address i mod n. On loopback any of 127.0.0.0/8 works " +
          "without setup, and each address has its own ~28,000 ephemeral ports: 20,000+ trucks need several.",
      ),
    spread: z
      .boolean()
      .default(true)
      .describe(
        "Even spread: truck i of N publishes at phase i/N of the period, whatever its connect time, so the fleet " +
          "sends a steady N/period publishes per second instead of bursts (no thundering herd).",
      ),
    storm: z
      .object({
        atS: z.number().positive().describe("When (seconds into the run) every truck drops its connection."),
        backlogS: z
          .number()
          .positive()
          .default(600)
          .describe("Each truck comes back with this many seconds of records waiting (10 minutes by default)."),
        batchSize: z.number().int().min(1).max(1000).default(100).describe("Records per publish while draining."),
      })
      .strict()
      .optional()
      .describe(
        "Reconnect storm: at atS all trucks drop and reconnect at once (no ramp), each with a backlog to drain.",
      ),
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
