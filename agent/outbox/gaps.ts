/**
 * Gaps: seqs that left the outbox without being delivered. Never silent (design promise 4): each gap becomes an
 * event record on the events channel, a log line and a counter. Three causes: the byte budget (`outbox-full`), the
 * file system's free space (`disk-full`), and seqs a recovery could not bring back (`recovery`).
 */
import type { Channel, EventBody, TimeSource } from "../../protocol/index.ts";

export type GapReason = "outbox-full" | "disk-full" | "recovery";

export interface GapInfo {
  channel: Channel;
  reason: GapReason;
  fromSeq: number;
  toSeq: number;
  count: number;
  bytes: number;
  /** seq of the gap event on the events channel. */
  eventSeq: number;
}

/** The event record that announces seqs fromSeq..toSeq of `channel` as gone. */
export function gapEvent(
  time: { ts: string; timeSource: TimeSource },
  gap: { channel: Channel; reason: GapReason; fromSeq: number; toSeq: number },
): EventBody {
  return {
    ts: time.ts,
    timeSource: time.timeSource,
    type: "gap",
    channel: gap.channel,
    fromSeq: gap.fromSeq,
    toSeq: gap.toSeq,
    count: gap.toSeq - gap.fromSeq + 1,
    reason: gap.reason,
  };
}
