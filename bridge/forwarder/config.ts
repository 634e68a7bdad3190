import { z } from "zod";
import { MAX_PAYLOAD_BYTES } from "../../protocol/codec.ts";

export const ForwarderConfigSchema = z
  .object({
    maxBatchRecords: z
      .number()
      .int()
      .positive()
      .default(2_000)
      .describe("A Kafka batch is cut when it holds this many records (whole publishes only)."),
    maxBatchBytes: z
      .number()
      .int()
      .positive()
      .default(900_000)
      .describe("... or this many bytes (keep below the broker's message.max.bytes, 1 MiB by default)."),
    lingerMs: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe(
        "How long the first records may wait for company when no batch is in flight (adds up to this much latency). " +
          "While a batch is in flight the next one fills by itself, so under load batches grow without lingering.",
      ),
    maxPendingRecords: z
      .number()
      .int()
      .positive()
      .default(50_000)
      .describe(
        "Records admitted but not yet acknowledged by Kafka. When full: further publishes wait unacknowledged and " +
          "their trucks' sockets are not read (never dropped); admission resumes as Kafka catches up.",
      ),
    maxPendingStatuses: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe(
        "Trucks whose latest online/offline record waits to be written (one record each: fleet.status is " +
          "compacted, a newer state replaces the waiting one). When full: the oldest truck's waiting record is " +
          "forgotten, counted in fleetsync_bridge_status_dropped_total and logged.",
      ),
    retryInitialMs: z.number().int().positive().default(100).describe("First wait before retrying a failed batch."),
    retryMaxMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe("Longest wait between retries (forever, doubling)."),
    maxPayloadBytes: z
      .number()
      .int()
      .positive()
      .max(MAX_PAYLOAD_BYTES)
      .default(MAX_PAYLOAD_BYTES)
      .describe("Larger payloads go to the dead-letter topic (FLEET_PAYLOAD_TOO_LARGE)."),
    drainTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(15_000)
      .describe(
        "The one deadline of a graceful stop (SIGTERM): in-flight batches, then the offline status records of the " +
          "trucks the stop disconnects, all within it; what Kafka has not taken by then stays unacknowledged and the " +
          "trucks resend it. Keep it below the process manager's grace period (Kubernetes: " +
          "terminationGracePeriodSeconds minus the preStop pause).",
      ),
  })
  .strict();

export type ForwarderConfig = z.infer<typeof ForwarderConfigSchema>;
