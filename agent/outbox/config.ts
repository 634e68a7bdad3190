import { z } from "zod";

/**
 * Outbox settings. The field docs are the configuration reference (docs/agent-config.md).
 * When-full policies: the disk budget (the smaller of `maxBytes` and what the file system has free above
 * `diskReserveBytes`) drops the oldest telemetry records first, then the oldest events, and records a `gap` event
 * naming them (with `whenFull: thin-then-drop`, the oldest telemetry is thinned first, see thinning.ts); the write buffer (`maxPendingRecords`) refuses new records with FLEET_OUTBOX_BUSY (counted and
 * logged) when the disk cannot keep up or refuses writes.
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
    diskReserveBytes: z
      .number()
      .int()
      .min(0)
      .default(32 * 1024 * 1024)
      .describe(
        "Free space the outbox leaves on its file system (statfs). LevelDB needs room of its own to flush its 1 MB memtable and to compact, and deleted records free space only after a compaction: when a commit would leave less than this free, the oldest records are dropped (gap event, reason disk-full) and the store compacted.",
      ),
    ballastBytes: z
      .number()
      .int()
      .min(0)
      .default(4 * 1024 * 1024)
      .describe(
        "A file of this size kept in the outbox folder and deleted when LevelDB cannot open or write for lack of space, so that a full disk can still be opened and drained; set aside again once there is room. 0: none.",
      ),
    stopTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe(
        "Longest time stop() waits for the last commit. Records not committed by then are lost (they were never sent: no consumer saw their seq), counted and logged; the store is closed either way.",
      ),
    dropToFraction: z
      .number()
      .min(0.5)
      .max(0.99)
      .default(0.9)
      .describe(
        "When the budget is exceeded, drop until the store is this fraction of maxBytes (fewer, larger drops).",
      ),
    whenFull: z
      .enum(["drop-oldest", "thin-then-drop"])
      .default("drop-oldest")
      .describe(
        "When-full policy of the disk budget. drop-oldest: the oldest records go, telemetry first, announced by a gap event. thin-then-drop: first the oldest telemetry is thinned, one thinWindowS window at a time (one record per thinKeepEveryS kept, and every record around a state change: engine, trouble codes, moving or stopped, parking brake), each window announced by a thinned event; records the uplink has read are never thinned; only when nothing is left to thin (the newest window is still open) are records dropped as with drop-oldest. Events are never thinned. The default stays drop-oldest: the thinned event needs bridges of v1.2 or later (an older bridge dead-letters it), so update the bridges before turning it on.",
      ),
    thinKeepEveryS: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(30)
      .describe("thin-then-drop: one telemetry record per this many seconds is kept in a thinned window."),
    thinWindowS: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3600)
      .describe(
        "thin-then-drop: the span of telemetry one thinning pass takes (by record time, oldest first) and one thinned event announces.",
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
