/**
 * Recovery: what the outbox finds on disk when it opens (at start, and when it reopens its store after failed
 * commits). Per channel the store is contiguous in seq (records only ever leave from the head), so the head, the
 * next seq and the byte sizes come from one scan of the keys. The next seq is above both the highest stored key and
 * the floor (the highest seq that ever left), so a crash never makes a seq be reused.
 *
 * The seq mark (seq-mark.ts), a bound above every committed seq kept outside LevelDB's files, covers what a crash can
 * take with it: when recovery cannot prove the store whole (LevelDB dropped a log block it could not read, or a power
 * cut may have cut the tail off unsynced writes), the next seqs start at the mark and the seqs in between are
 * reported as lost, for the outbox to announce with a `recovery` gap event. A seq that holds no record keeps a
 * zero-byte place in the size queue, so that counting by seq stays counting by place.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../../common/log.ts";
import type { Channel } from "../../protocol/index.ts";
import { channelRange, floorKey, META_CREATED, META_STREAM, seqOfKey, thinnedKey } from "./keys.ts";
import type { SeqMark } from "./seq-mark.ts";
import { SizeQueue } from "./size-queue.ts";
import type { OutboxStore, StoreOp } from "./store.ts";

export const CHANNEL_LIST: Channel[] = ["telemetry", "events"];

/** One channel's positions as found on disk. */
export interface RecoveredChannel {
  /** The head: the oldest stored seq (= next when the channel is empty). */
  first: number;
  /** The seq the next record gets (everything below it counts as committed). */
  next: number;
  /** The highest seq that ever left the channel (-1: none). */
  floor: number;
  /** The highest seq a thinning pass examined (-1: none): holes below it were thinned on purpose. */
  thinnedUpTo: number;
  sizes: SizeQueue;
}

/** seqs that may have been used but could not be brought back. */
export interface RecoveryLoss {
  channel: Channel;
  fromSeq: number;
  toSeq: number;
}

export interface Recovered {
  stream: string;
  channels: Record<Channel, RecoveredChannel>;
  losses: RecoveryLoss[];
}

export interface RecoveryOptions {
  /** Every batch was synced: a crash cannot have lost a committed write. */
  sync: boolean;
  /** This boot's id: a crash within the same boot cannot have lost unsynced writes (the OS had them). */
  bootId: string;
  log: Logger;
}

/** Reads an opened store: its stream (made afresh for a new store) and every channel's positions. */
export async function recoverStore(store: OutboxStore, options: RecoveryOptions): Promise<Recovered> {
  const { log } = options;
  let stream = await store.get(META_STREAM);
  if (stream === undefined) {
    stream = randomBytes(8).toString("hex");
    await store.batch([
      { type: "put", key: META_STREAM, value: stream },
      { type: "put", key: META_CREATED, value: new Date().toISOString() },
    ]);
    log.info({ stream }, "outbox created with a new stream");
  }
  const channels = {} as Record<Channel, RecoveredChannel>;
  for (const c of CHANNEL_LIST) channels[c] = await recoverChannel(store, c, log);
  const losses = settle(store, stream, channels, store.readMark(), options);
  return { stream, channels, losses };
}

async function recoverChannel(store: OutboxStore, channel: Channel, log: Logger): Promise<RecoveredChannel> {
  const sizes = new SizeQueue();
  const floorValue = await store.get(floorKey(channel));
  const floor = floorValue === undefined ? -1 : Number(floorValue);
  const thinnedValue = await store.get(thinnedKey(channel));
  const thinnedUpTo = thinnedValue === undefined ? -1 : Number(thinnedValue);
  let first = -1;
  let last = -1;
  const stale: StoreOp[] = [];
  for await (const [key, value] of store.entries(channelRange(channel))) {
    const seq = seqOfKey(key);
    // Cannot happen with atomic batches; if an older build left such keys, they already left the outbox.
    if (seq <= floor) {
      stale.push({ type: "del", key });
      continue;
    }
    if (first < 0) first = seq;
    if (last >= 0 && seq !== last + 1) {
      // Below the thinning watermark holes are what thinning removed (announced with a thinned event).
      if (seq - 1 > thinnedUpTo) log.warn({ channel, after: last, seq }, "outbox: hole in stored seqs");
      for (let s = last + 1; s < seq; s++) sizes.push(0);
    }
    last = seq;
    sizes.push(key.length + value.length);
  }
  if (stale.length > 0) await store.batch(stale);
  const next = Math.max(last + 1, floor + 1);
  return { first: first < 0 ? next : first, next, floor, thinnedUpTo, sizes };
}

/**
 * Decides whether recovery may continue from the seqs it found. It may when LevelDB reported no loss and either
 * the last stop was clean and left exactly these seqs, or it was a crash within this boot with every batch synced
 * (the OS had every write). Otherwise the mark bounds what may have been committed: the channels continue from it,
 * and the seqs in between are reported as lost.
 */
function settle(
  store: OutboxStore,
  stream: string,
  channels: Record<Channel, RecoveredChannel>,
  found: SeqMark | undefined,
  { sync, bootId, log }: RecoveryOptions,
): RecoveryLoss[] {
  if (!found || found.stream !== stream) {
    if (store.recoveryLost()) {
      log.error({ stream }, "outbox: recovery lost data and no seq mark bounds it; seqs may be reused");
    }
    return [];
  }
  const cleanAndExact = found.clean && CHANNEL_LIST.every((c) => channels[c].next >= found.next[c]);
  const crashedSafely = !found.clean && (sync || found.bootId === bootId);
  const whole = !store.recoveryLost() && (cleanAndExact || crashedSafely);
  if (whole) return [];
  const losses: RecoveryLoss[] = [];
  for (const c of CHANNEL_LIST) {
    const ch = channels[c];
    if (found.next[c] <= ch.next) continue;
    losses.push({ channel: c, fromSeq: ch.next, toSeq: found.next[c] - 1 });
    for (let s = ch.next; s < found.next[c]; s++) ch.sizes.push(0);
    ch.next = found.next[c];
  }
  log.error(
    { stream, losses, leveldbDropped: store.recoveryLost(), lastStopClean: found.clean },
    "outbox: recovery could not prove the store whole; continuing above every seq that may have been used",
  );
  return losses;
}
