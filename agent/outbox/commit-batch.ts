/**
 * One group commit, as data: the outbox's per-channel positions, and the batch that moves them. prepareCommit takes
 * what is pending, the acknowledgements and the drops the budget asks for (budget.ts) and turns them into one atomic
 * store batch; applyCommit moves the positions once the store has it. A batch is kept as-is and retried when the
 * write fails, so the seqs given out inside it stay valid.
 */
import type { Channel } from "../../protocol/index.ts";
import { planDrops } from "./budget.ts";
import type { OutboxConfig } from "./config.ts";
import { type GapInfo, type GapReason, gapEvent } from "./gaps.ts";
import { floorKey, recordKey, thinnedKey } from "./keys.ts";
import { CHANNEL_LIST } from "./recovery.ts";
import { SizeQueue } from "./size-queue.ts";
import type { StoreOp } from "./store.ts";
import { type ThinnedInfo, type ThinPlan, thinnedEvent } from "./thinning.ts";
import type { OutboxDeps } from "./types.ts";

/** A record appended and given its seq, waiting for the commit that makes it readable. */
export interface Pending {
  seq: number;
  key: string;
  value: string;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

/** One channel's queue: [first, committedNext) is stored and readable, [committedNext, next) is pending. */
export interface ChannelState {
  first: number;
  committedNext: number;
  next: number;
  /** The highest seq that ever left (acknowledged or dropped); stored with every batch that raises it. */
  floor: number;
  sizes: SizeQueue;
  pending: Pending[];
  /** Everything up to here was acknowledged by the uplink; deleted with the next commit. */
  ackUpTo: number;
  /** The highest seq a thinning pass examined (stored under thinnedKey); -1: none. */
  thinnedUpTo: number;
  counters: { appended: number; acked: number; dropped: number; thinned: number; refused: number; lost: number };
}

export function newChannelState(): ChannelState {
  return {
    first: 0,
    committedNext: 0,
    next: 0,
    floor: -1,
    sizes: new SizeQueue(),
    pending: [],
    ackUpTo: -1,
    thinnedUpTo: -1,
    counters: { appended: 0, acked: 0, dropped: 0, thinned: 0, refused: 0, lost: 0 },
  };
}

export interface CommitBatch {
  ops: StoreOp[];
  taken: Record<Channel, Pending[]>;
  removed: Record<Channel, { count: number; acked: number; newFirst: number; floor: number }>;
  gap: GapInfo | undefined;
  gapValue: string | undefined;
  /** A thinning pass riding in this batch (telemetry): its deletes, its event and its watermark. */
  thinned: { info: ThinnedInfo; value: string | undefined; plan: ThinPlan } | undefined;
  limit: number;
  reason: GapReason;
}

/** A prepared batch, with the ack() calls that resolve when it is written. */
export interface PreparedCommit extends CommitBatch {
  ackWaiters: Array<() => void>;
}

type BatchConfig = Pick<
  OutboxConfig,
  "maxBytes" | "diskReserveBytes" | "dropToFraction" | "commitMaxRecords" | "thinKeepEveryS"
>;

/**
 * The thin-then-drop policy's part in one commit. Given at all, it means telemetry can still be thinned: nothing is
 * dropped in this commit, thinning frees the room first (this pass, or the next one when the uplink read into the
 * range while it was chosen).
 */
export interface ThinStep {
  /** A pass to write in this batch (rows chosen by thinning.ts, none of them read by the uplink). */
  plan: ThinPlan | undefined;
}

/**
 * Takes every channel's pending records and acknowledgements into one batch, with the drops the budget needs and
 * their gap event, or a thinning pass and its thinned event. Gives that event its seq (the events channel's next).
 * `acksLeft`: acknowledgements were held back for the next batch (see the cap below); `shortBy`: bytes still over
 * the budget.
 */
export function prepareCommit(
  channels: Record<Channel, ChannelState>,
  free: number,
  config: BatchConfig,
  now: NonNullable<OutboxDeps["now"]>,
  thin: ThinStep | undefined = undefined,
): { batch: CommitBatch; acksLeft: boolean; shortBy: number } {
  const ops: StoreOp[] = [];
  const taken = {} as CommitBatch["taken"];
  const removed = {} as CommitBatch["removed"];
  let bytesAfter = 0;
  let bytesNow = 0;
  const ackCounts = {} as Record<Channel, number>;
  for (const c of CHANNEL_LIST) {
    const ch = channels[c];
    taken[c] = ch.pending;
    ch.pending = [];
    const ackEnd = Math.min(ch.ackUpTo, ch.committedNext - 1);
    const ackCount = ackEnd >= ch.first ? ackEnd - ch.first + 1 : 0;
    ackCounts[c] = ackCount;
    const pendingBytes = taken[c].reduce((n, p) => n + p.key.length + p.value.length, 0);
    bytesNow += ch.sizes.bytes;
    bytesAfter += ch.sizes.bytes - ch.sizes.countBytes(ackCount) + pendingBytes;
  }
  let thinned: CommitBatch["thinned"];
  if (thin?.plan) {
    // One batch holds the deletes, the announcing event and the watermark: a crash leaves all of them or none.
    const { plan } = thin;
    const bytes = plan.remove.reduce((n, r) => n + r.bytes, 0);
    bytesAfter -= bytes;
    for (const r of plan.remove) ops.push({ type: "del", key: r.key });
    ops.push({ type: "put", key: thinnedKey("telemetry"), value: String(plan.toSeq) });
    let value: string | undefined;
    const info: ThinnedInfo = {
      fromSeq: plan.fromSeq,
      toSeq: plan.toSeq,
      count: plan.remove.length,
      keptEveryS: config.thinKeepEveryS,
      bytes,
      eventSeq: -1,
    };
    if (plan.remove.length > 0) {
      // Taken after every pending event of this batch: the event is the newest committed one (as a gap event).
      info.eventSeq = channels.events.next++;
      channels.events.counters.appended++;
      value = JSON.stringify(thinnedEvent(now(), info));
      ops.push({ type: "put", key: recordKey("events", info.eventSeq), value });
    }
    thinned = { info, value, plan };
  }
  // The when-full policy (budget.ts): which of the oldest records go, to stay within the bytes or the disk.
  const plan = planDrops({
    maxBytes: config.maxBytes,
    diskReserveBytes: config.diskReserveBytes,
    dropToFraction: config.dropToFraction,
    freeBytes: free,
    bytesNow,
    bytesAfter,
    channels: {
      telemetry: { sizes: channels.telemetry.sizes, ackCount: ackCounts.telemetry },
      events: { sizes: channels.events.sizes, ackCount: ackCounts.events },
    },
  });
  const { limit, reason } = plan;
  // thin-then-drop: while telemetry can still be thinned nothing is dropped; the budget may be exceeded by this
  // commit's records until the next pass (one per commit) has freed the room.
  const dropCounts = thin ? { telemetry: 0, events: 0 } : plan.drops;
  let gap: GapInfo | undefined;
  let gapValue: string | undefined;
  const dropping: Channel = dropCounts.telemetry > 0 ? "telemetry" : "events";
  if (dropCounts[dropping] > 0) {
    const ch = channels[dropping];
    const fromSeq = ch.first + ackCounts[dropping];
    const count = dropCounts[dropping];
    const events = channels.events;
    const eventSeq = events.next++;
    events.counters.appended++;
    gap = {
      channel: dropping,
      reason,
      fromSeq,
      toSeq: fromSeq + count - 1,
      count,
      bytes: ch.sizes.countBytes(ackCounts[dropping] + count) - ch.sizes.countBytes(ackCounts[dropping]),
      eventSeq,
    };
    gapValue = JSON.stringify(gapEvent(now(), gap));
    ops.push({ type: "put", key: recordKey("events", eventSeq), value: gapValue });
  }
  // At most commitMaxRecords deletes per channel per commit, when nothing is being dropped: a backlog drains at
  // tens of thousands of records a second, so one 200 ms commit could carry 10,000+ deletes, each an op object,
  // its key, level's encoded copy of both and LevelDB's write batch: several MB alive at once, which V8 then
  // keeps as heap (measured: the agent's heap rose from ~15 to ~30 MB during a 20,000-record drain). The rest
  // follows in the next commit, started at once. Acknowledged records still in the store are only re-sent after
  // a crash, which the bridge deduplicates by seq; the floor always matches what was deleted.
  let acksLeft = false;
  if (dropCounts.telemetry === 0 && dropCounts.events === 0) {
    for (const c of CHANNEL_LIST) {
      if (ackCounts[c] > config.commitMaxRecords) {
        ackCounts[c] = config.commitMaxRecords;
        acksLeft = true;
      }
    }
  }
  for (const c of CHANNEL_LIST) {
    const ch = channels[c];
    const count = ackCounts[c] + dropCounts[c];
    for (let i = 0; i < count; i++) ops.push({ type: "del", key: recordKey(c, ch.first + i) });
    const newFirst = ch.first + count;
    const floor = count > 0 ? Math.max(ch.floor, newFirst - 1) : ch.floor;
    if (floor !== ch.floor) ops.push({ type: "put", key: floorKey(c), value: String(floor) });
    for (const p of taken[c]) ops.push({ type: "put", key: p.key, value: p.value });
    removed[c] = { count, acked: ackCounts[c], newFirst, floor };
  }
  return {
    batch: { ops, taken, removed, gap, gapValue, thinned, limit, reason },
    acksLeft,
    shortBy: thin ? 0 : plan.shortBy,
  };
}

/** Moves the positions after the store wrote `batch`. True when it made new records readable. */
export function applyCommit(channels: Record<Channel, ChannelState>, batch: CommitBatch): boolean {
  let readable = false;
  if (batch.thinned) {
    // The thinned records keep their places in the size queue, at zero bytes (positions are counted by seq).
    const t = channels.telemetry;
    for (const r of batch.thinned.plan.remove) t.sizes.set(r.seq - t.first, 0);
    t.thinnedUpTo = Math.max(t.thinnedUpTo, batch.thinned.plan.toSeq);
    t.counters.thinned += batch.thinned.info.count;
  }
  for (const c of CHANNEL_LIST) {
    const ch = channels[c];
    const r = batch.removed[c];
    ch.sizes.shift(r.count);
    ch.first = r.newFirst;
    ch.floor = r.floor;
    ch.counters.acked += r.acked;
    ch.counters.dropped += r.count - r.acked;
    for (const p of batch.taken[c]) ch.sizes.push(p.key.length + p.value.length);
    const lastTaken = batch.taken[c].at(-1);
    if (lastTaken) {
      ch.committedNext = lastTaken.seq + 1;
      readable = true;
    }
  }
  // The gap or thinned event's seq was taken after every pending event of this batch, so it is the newest committed.
  if (batch.gap && batch.gapValue !== undefined)
    readable = commitEvent(channels.events, batch.gap.eventSeq, batch.gapValue);
  const thinned = batch.thinned;
  if (thinned && thinned.info.eventSeq >= 0 && thinned.value !== undefined) {
    readable = commitEvent(channels.events, thinned.info.eventSeq, thinned.value);
  }
  return readable;
}

/** An event the batch made itself (a gap or a thinned event) is stored: count its bytes and make it readable. */
function commitEvent(events: ChannelState, seq: number, value: string): true {
  events.sizes.push(recordKey("events", seq).length + value.length);
  events.committedNext = Math.max(events.committedNext, seq + 1);
  return true;
}
