/**
 * The outbox's when-full policy (design promise 4): drop the oldest. The budget is `maxBytes`, or what the file
 * system has free above `diskReserveBytes` if that is less (a record takes about its own size on disk, and compaction
 * shrinks it; each commit measures again, so the estimate corrects itself). A commit that would end above the budget
 * drops the oldest committed telemetry first, then the oldest events, down to `dropToFraction` of the budget so that
 * the next records do not each drop one more. Pure arithmetic on the size queues: the outbox turns the plan into
 * deletes and one gap event (gaps.ts).
 */
import type { Channel } from "../../protocol/index.ts";
import type { GapReason } from "./gaps.ts";
import { CHANNEL_LIST } from "./recovery.ts";
import type { SizeQueue } from "./size-queue.ts";

export interface BudgetInput {
  maxBytes: number;
  diskReserveBytes: number;
  dropToFraction: number;
  /** Free bytes on the store's file system (Infinity: not measured). */
  freeBytes: number;
  /** Bytes stored now, all channels. */
  bytesNow: number;
  /** Bytes stored once this commit is written (its acknowledgements deleted, its new records added). */
  bytesAfter: number;
  /** Per channel: the committed records' sizes and how many of them, from the head, this commit deletes as acked. */
  channels: Record<Channel, { sizes: SizeQueue; ackCount: number }>;
}

export interface DropPlan {
  limit: number;
  reason: GapReason;
  /** Records to drop per channel, after the acknowledged ones. At most one channel drops per commit. */
  drops: Record<Channel, number>;
  /** Bytes still over the budget after every committed record was planned away (the commit alone is bigger). */
  shortBy: number;
}

/** The budget now: maxBytes, or less when the file system has less free above the reserve (and why). */
export function budgetLimit(input: Pick<BudgetInput, "maxBytes" | "diskReserveBytes" | "freeBytes" | "bytesNow">): {
  limit: number;
  reason: GapReason;
} {
  const diskLimit = input.bytesNow + input.freeBytes - input.diskReserveBytes;
  if (diskLimit < input.maxBytes) return { limit: Math.max(0, Math.floor(diskLimit)), reason: "disk-full" };
  return { limit: input.maxBytes, reason: "outbox-full" };
}

export function planDrops(input: BudgetInput): DropPlan {
  const { limit, reason } = budgetLimit(input);
  const drops: Record<Channel, number> = { telemetry: 0, events: 0 };
  let need = 0;
  if (input.bytesAfter > limit) {
    need = input.bytesAfter - Math.floor(limit * input.dropToFraction);
    for (const c of CHANNEL_LIST) {
      if (need <= 0) break;
      const { sizes, ackCount } = input.channels[c];
      const ackBytes = sizes.countBytes(ackCount);
      const upTo = sizes.countFor(ackBytes + need);
      const drop = Math.max(0, upTo - ackCount);
      drops[c] = drop;
      need -= sizes.countBytes(ackCount + drop) - ackBytes;
    }
    // Both channels dropping in one commit would need two gap events; the next commit handles the rest.
    if (drops.telemetry > 0) drops.events = 0;
  }
  return { limit, reason, drops, shortBy: Math.max(0, need) };
}
