/**
 * Key layout. Records: `<c>:<seq as 14 hex digits>` (c = "t" telemetry, "e" events); fixed width so LevelDB's
 * byte order is seq order (2^53 fits in 14 hex digits). Metadata under `m:`. The three prefixes never interleave.
 */
import type { Channel } from "../../protocol/index.ts";

const PREFIX: Record<Channel, string> = { telemetry: "t:", events: "e:" };
const SEQ_DIGITS = 14;

export const META_STREAM = "m:stream";
export const META_CREATED = "m:created";

/** The highest seq that ever left the channel (acknowledged or dropped): the floor below which seq is never reused. */
export function floorKey(channel: Channel): string {
  return `m:floor:${channel}`;
}

/**
 * The highest seq a thinning pass has examined (thin-then-drop): written in the pass's batch, so recovery knows that
 * the holes below it were thinned on purpose and passes never examine a range twice.
 */
export function thinnedKey(channel: Channel): string {
  return `m:thinned:${channel}`;
}

export function recordKey(channel: Channel, seq: number): string {
  return PREFIX[channel] + seq.toString(16).padStart(SEQ_DIGITS, "0");
}

export function seqOfKey(key: string): number {
  return Number.parseInt(key.slice(2), 16);
}

/** The key range holding every record of a channel. */
export function channelRange(channel: Channel): { gte: string; lt: string } {
  const p = PREFIX[channel];
  return { gte: p, lt: p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1) };
}
