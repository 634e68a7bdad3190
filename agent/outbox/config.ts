import { z } from "zod";

/**
 * Outbox settings. The field docs are the configuration reference (docs/agent-config.md).
 * When-full policies: the disk budget (`maxBytes`) drops the oldest telemetry records first, then the oldest
 * events, and records a `gap` event naming them; the write buffer (`maxPendingRecords`) refuses new records with
 * FLEET_OUTBOX_BUSY (counted and logged) when the disk cannot keep up.
 */
export const OutboxConfigSchema = z
  .object({
    dir: z
      .string()
      .min(1)
      .describe("Folder of the LevelDB store. Created when missing; a new store starts a new stream."),
    maxBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(256 * 1024 * 1024)
      .describe(
        "Disk budget in bytes, counted as record bytes stored (key + value, before LevelDB's compression). When a commit would exceed it, the oldest telemetry records go first (then the oldest events) and a gap event names them.",
      ),
    dropToFraction: z
      .number()
      .min(0.5)
      .max(0.99)
      .default(0.9)
      .describe(
        "When the budget is exceeded, drop until the store is this fraction of maxBytes (fewer, larger drops).",
      ),
    commitIntervalMs: z
      .number()
      .int()
      .min(1)
      .max(60_000)
      .default(200)
      .describe(
        "Group commit: records are written at most this long after they were appended (SD cards have few write IOPS). A record is in the outbox only once its batch is committed.",
      ),
    commitMaxRecords: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(2000)
      .describe("Group commit: a batch is written at once when this many records are waiting."),
    maxPendingRecords: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(50_000)
      .describe(
        "Cap of the in-memory write buffer (records appended, not yet committed). When full, append refuses with FLEET_OUTBOX_BUSY.",
      ),
    sync: z
      .boolean()
      .default(true)
      .describe("fsync every batch, so a committed record survives a power cut, not only a process crash."),
  })
  .strict();

export type OutboxConfig = z.infer<typeof OutboxConfigSchema>;
export type OutboxConfigInput = z.input<typeof OutboxConfigSchema>;
