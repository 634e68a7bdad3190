/**
 * The outbox: every record the agent takes waits here, on disk, until the broker's PUBACK (design promise 1).
 * One ordered queue per channel (telemetry, events), each with its own `seq` within the store's `stream`.
 *
 * Writes are group commits: append() gives the record the next seq at once and resolves when the batch holding
 * it is committed; only committed records are readable (so only they are ever sent). Acknowledgements and drops
 * ride in the same batches: deleting records and raising the channel's floor (the highest seq that ever left) is
 * one atomic write, so after a crash the next seq is above both the highest stored key and the floor, and a seq is
 * never reused by a crash. The seq mark (seq-mark.ts), a bound above every committed seq kept outside LevelDB's
 * files, covers what a crash can take with it: when recovery cannot prove the store whole (LevelDB dropped a log
 * block it could not read, or a power cut may have cut the tail off unsynced writes), the next seqs start at the
 * mark and a `recovery` gap event names the seqs that were not brought back.
 *
 * Per channel the store is contiguous in seq (records only ever leave from the head), which lets deletes be computed
 * from seq without reading. A seq that holds no record (one recovery could not bring back) keeps a zero-byte place
 * in the size queue, so that counting by seq stays counting by place.
 *
 * The disk: before each commit the file system's free space is read (statfs). A commit that would leave less than
 * `diskReserveBytes` free drops the oldest records with a `disk-full` gap event and compacts the store so the space
 * really comes back. A commit that fails anyway (something else filled the disk) is retried with backoff, new records
 * wait in the bounded write buffer, and after two failures in a row the store is closed and opened again (LevelDB
 * refuses every write after a failed sync until it is reopened; opening may release the ballast). stop() waits at
 * most `stopTimeoutMs`.
 */
import { randomBytes } from "node:crypto";
import { within } from "../../common/within.ts";
import { readBootId } from "../../common/boot-id.ts";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import type { Channel, ChannelBody, ChannelRecord, EventBody, TimeSource } from "../../protocol/index.ts";
import type { OutboxConfig } from "./config.ts";
import { channelRange, floorKey, META_CREATED, META_STREAM, recordKey, seqOfKey } from "./keys.ts";
import { createLevelStore } from "./level-store.ts";
import type { SeqMark } from "./seq-mark.ts";
import { MAX_RECORD_BYTES, SizeQueue } from "./size-queue.ts";
import type { OutboxStore, StoreOp } from "./store.ts";

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

/** Recovery's account of seqs it could not bring back, announced with a gap event once the outbox is open. */
interface RecoveryLoss {
  channel: Channel;
  fromSeq: number;
  toSeq: number;
}

export interface OutboxDeps {
  truckId: string;
  /** Defaults to LevelDB in config.dir. */
  store?: OutboxStore;
  logger?: Logger;
  /** Linux boot id (/proc/sys/kernel/random/boot_id): a crash within one boot cannot have lost unsynced writes. */
  bootId?: string;
  /** The time for records the outbox makes itself (gap events): GNSS time when the agent has it. */
  now?: () => { ts: string; timeSource: TimeSource };
  onGap?: (gap: GapInfo) => void;
}

export interface ChannelStats {
  /** Records stored and committed, not yet acknowledged. */
  stored: number;
  /** Records appended, not yet committed. */
  pending: number;
  bytes: number;
  firstSeq: number;
  nextSeq: number;
  appended: number;
  acked: number;
  dropped: number;
  refused: number;
  /** seqs announced as not brought back by recovery (an upper bound: some may never have held a record). */
  lost: number;
}

export interface OutboxStats {
  stream: string;
  commits: number;
  commitErrors: number;
  /** Times the store was closed and opened again after failed commits. */
  reopens: number;
  /** Records still waiting to be written when stop() gave up (never sent, so no seq of theirs was seen). */
  lostAtStop: number;
  /** Free bytes on the store's file system at the last commit (Infinity: no disk, or not measured yet). */
  diskFreeBytes: number;
  channels: Record<Channel, ChannelStats>;
}

export interface Outbox {
  start(): Promise<void>;
  /** Commits what is pending, then closes the store. Idempotent. */
  stop(): Promise<void>;
  readonly stream: string;
  /** Appends with the channel's next seq; resolves with that seq once the record is committed. */
  append<C extends Channel>(channel: C, body: ChannelBody[C]): Promise<number>;
  /** Committed records with seq >= fromSeq, oldest first, at most `limit`. */
  read<C extends Channel>(channel: C, fromSeq: number, limit: number): Promise<ChannelRecord[C][]>;
  /** Everything up to and including `seq` was acknowledged: it leaves with the next commit. */
  ack(channel: Channel, seq: number): Promise<void>;
  /** Writes everything appended or acknowledged so far. */
  flush(): Promise<void>;
  /** The seq the next committed record would have to be read from (the head of the queue). */
  firstSeq(channel: Channel): number;
  /** One past the newest committed seq. */
  committedNext(channel: Channel): number;
  /** Records not yet acknowledged (stored + pending), all channels. */
  depth(): number;
  /** Called after every commit that made new records readable. Returns an unsubscribe function. */
  onCommit(listener: () => void): () => void;
  stats(): OutboxStats;
}

interface Pending {
  seq: number;
  key: string;
  value: string;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

interface ChannelState {
  first: number;
  committedNext: number;
  next: number;
  floor: number;
  sizes: SizeQueue;
  pending: Pending[];
  ackUpTo: number;
  counters: { appended: number; acked: number; dropped: number; refused: number; lost: number };
}

/** A prepared batch: kept as-is and retried when the write fails, so seqs given out inside it stay valid. */
interface PreparedCommit {
  ops: StoreOp[];
  taken: Record<Channel, Pending[]>;
  removed: Record<Channel, { count: number; acked: number; newFirst: number; floor: number }>;
  gap: GapInfo | undefined;
  gapValue: string | undefined;
  ackWaiters: Array<() => void>;
}

const CHANNEL_LIST: Channel[] = ["telemetry", "events"];
const RETRY_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** Failed commits in a row after which the store is reopened (LevelDB's error after a failed sync is sticky). */
const REOPEN_AFTER_FAILURES = 2;
/** seqs reserved per write of the seq mark: one small write per this many records, not per commit. */
const SEQ_BLOCK = 4096;
/** Longest wait for the store to close at stop: a hung disk must not hold the process. */
const CLOSE_TIMEOUT_MS = 2_000;

function isNoSpace(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === "ENOSPC" || /no space left/i.test(e.message)) return true;
  }
  return false;
}

/** Resolves after `ms`, or at once when `cut` is called: waits that stop() must be able to end. */
function pause(ms: number): { done: Promise<void>; cut(): void } {
  let cut = () => {};
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    cut = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { done, cut };
}

function systemNow(): { ts: string; timeSource: TimeSource } {
  return { ts: new Date().toISOString(), timeSource: "system" };
}

export function createOutbox(config: OutboxConfig, deps: OutboxDeps): Outbox {
  const store =
    deps.store ?? createLevelStore({ dir: config.dir, sync: config.sync, ballastBytes: config.ballastBytes });
  const log = deps.logger ?? silentLogger;
  const now = deps.now ?? systemNow;
  const bootId = deps.bootId ?? readBootId();
  const channels = {} as Record<Channel, ChannelState>;
  for (const c of CHANNEL_LIST) {
    channels[c] = {
      first: 0,
      committedNext: 0,
      next: 0,
      floor: -1,
      sizes: new SizeQueue(),
      pending: [],
      ackUpTo: -1,
      counters: { appended: 0, acked: 0, dropped: 0, refused: 0, lost: 0 },
    };
  }
  const listeners = new Set<() => void>();
  let stream = "";
  let state: "new" | "open" | "stopping" | "closed" = "new";
  /** False while the store is being reopened after failed commits (reads then find nothing). */
  let storeOpen = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let retry: PreparedCommit | undefined;
  let retryPause: { cut(): void } | undefined;
  let failuresInRow = 0;
  let commits = 0;
  let commitErrors = 0;
  let reopens = 0;
  let lostAtStop = 0;
  let diskFree = Number.POSITIVE_INFINITY;
  let mark: SeqMark | undefined;
  let ackWaiters: Array<() => void> = [];
  let stopping: Promise<void> | undefined;
  /** The last prepared commit left acknowledged records for the next one (see the cap in prepare()). */
  let acksLeft = false;

  async function start(): Promise<void> {
    if (state !== "new") throw new FleetError("FLEET_OUTBOX_CLOSED", "outbox was already started");
    const losses = await openAndRecover();
    state = "open";
    announce(losses);
    log.info(
      {
        stream,
        telemetry: { first: channels.telemetry.first, next: channels.telemetry.next },
        events: { first: channels.events.first, next: channels.events.next },
      },
      "outbox opened",
    );
  }

  /** Opens the store and sets every channel's positions from what is on disk and the seq mark. */
  async function openAndRecover(): Promise<RecoveryLoss[]> {
    await store.open();
    storeOpen = true;
    const existing = await store.get(META_STREAM);
    if (existing === undefined) {
      stream = randomBytes(8).toString("hex");
      await store.batch([
        { type: "put", key: META_STREAM, value: stream },
        { type: "put", key: META_CREATED, value: new Date().toISOString() },
      ]);
      log.info({ stream }, "outbox created with a new stream");
    } else {
      stream = existing;
    }
    for (const c of CHANNEL_LIST) await recover(c);
    await measureDisk();
    const losses = settle(store.readMark());
    // Running from here on: the mark is unclean and reserves the next block of seqs.
    await writeMark(false, {
      telemetry: channels.telemetry.next + SEQ_BLOCK,
      events: channels.events.next + SEQ_BLOCK,
    });
    return losses;
  }

  async function recover(channel: Channel): Promise<void> {
    const ch = channels[channel];
    ch.sizes = new SizeQueue();
    const floorValue = await store.get(floorKey(channel));
    ch.floor = floorValue === undefined ? -1 : Number(floorValue);
    let first = -1;
    let last = -1;
    const stale: StoreOp[] = [];
    for await (const [key, value] of store.entries(channelRange(channel))) {
      const seq = seqOfKey(key);
      // Cannot happen with atomic batches; if an older build left such keys, they already left the outbox.
      if (seq <= ch.floor) {
        stale.push({ type: "del", key });
        continue;
      }
      if (first < 0) first = seq;
      if (last >= 0 && seq !== last + 1) {
        log.warn({ channel, after: last, seq }, "outbox: hole in stored seqs");
        for (let s = last + 1; s < seq; s++) ch.sizes.push(0);
      }
      last = seq;
      ch.sizes.push(key.length + value.length);
    }
    if (stale.length > 0) await store.batch(stale);
    const next = Math.max(last + 1, ch.floor + 1);
    ch.first = first < 0 ? next : first;
    ch.committedNext = next;
    ch.next = next;
  }

  /**
   * Decides whether recovery may continue from the seqs it found. It may when LevelDB reported no loss and either
   * the last stop was clean and left exactly these seqs, or it was a crash within this boot with every batch synced
   * (the OS had every write). Otherwise the mark bounds what may have been committed: the channels continue from it,
   * and the seqs in between are announced as lost.
   */
  function settle(found: SeqMark | undefined): RecoveryLoss[] {
    if (!found || found.stream !== stream) {
      if (store.recoveryLost()) {
        log.error({ stream }, "outbox: recovery lost data and no seq mark bounds it; seqs may be reused");
      }
      return [];
    }
    const cleanAndExact = found.clean && CHANNEL_LIST.every((c) => channels[c].next >= found.next[c]);
    const crashedSafely = !found.clean && (config.sync || found.bootId === bootId);
    const whole = !store.recoveryLost() && (cleanAndExact || crashedSafely);
    if (whole) return [];
    const losses: RecoveryLoss[] = [];
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      if (found.next[c] <= ch.next) continue;
      losses.push({ channel: c, fromSeq: ch.next, toSeq: found.next[c] - 1 });
      for (let s = ch.committedNext; s < found.next[c]; s++) ch.sizes.push(0);
      ch.committedNext = found.next[c];
      ch.next = found.next[c];
    }
    log.error(
      { stream, losses, leveldbDropped: store.recoveryLost(), lastStopClean: found.clean },
      "outbox: recovery could not prove the store whole; continuing above every seq that may have been used",
    );
    return losses;
  }

  /** Queues a gap event per loss recovery found (written with the next commit, like any event). */
  function announce(losses: RecoveryLoss[]): void {
    for (const l of losses) {
      channels[l.channel].counters.lost += l.toSeq - l.fromSeq + 1;
      const body: EventBody = {
        ...now(),
        type: "gap",
        channel: l.channel,
        fromSeq: l.fromSeq,
        toSeq: l.toSeq,
        count: l.toSeq - l.fromSeq + 1,
        reason: "recovery",
      };
      append("events", body).catch((error: unknown) => log.error({ err: error }, "outbox: recovery gap not written"));
    }
  }

  async function measureDisk(): Promise<void> {
    diskFree = await store.freeBytes().catch(() => Number.POSITIVE_INFINITY);
  }

  async function writeMark(clean: boolean, next: Record<Channel, number>): Promise<void> {
    const value: SeqMark = { stream, clean, bootId, next: { telemetry: next.telemetry!, events: next.events! } };
    await store.writeMark(value);
    mark = value;
  }

  /** Raises the seq mark before a commit that would write a seq at or above it. */
  async function reserve(prepared: PreparedCommit): Promise<void> {
    const highest: Record<Channel, number> = {
      telemetry: prepared.taken.telemetry.at(-1)?.seq ?? -1,
      events: Math.max(prepared.taken.events.at(-1)?.seq ?? -1, prepared.gap?.eventSeq ?? -1),
    };
    const current = mark?.next ?? { telemetry: 0, events: 0 };
    if (mark && !mark.clean && CHANNEL_LIST.every((c) => highest[c] < current[c])) return;
    await writeMark(false, {
      telemetry: Math.max(current.telemetry, highest.telemetry + 1 + SEQ_BLOCK),
      events: Math.max(current.events, highest.events + 1 + SEQ_BLOCK),
    });
  }

  function append<C extends Channel>(channel: C, body: ChannelBody[C]): Promise<number> {
    if (state !== "open") {
      return Promise.reject(new FleetError("FLEET_OUTBOX_CLOSED", `outbox is ${state}: cannot append`));
    }
    const ch = channels[channel];
    if (pendingCount() >= config.maxPendingRecords) {
      ch.counters.refused++;
      return Promise.reject(
        new FleetError("FLEET_OUTBOX_BUSY", `outbox write buffer full (${config.maxPendingRecords} records)`, {
          details: { channel },
        }),
      );
    }
    const value = JSON.stringify(body);
    const seq = ch.next;
    const key = recordKey(channel, seq);
    if (key.length + value.length > MAX_RECORD_BYTES) {
      return Promise.reject(
        new FleetError("FLEET_PAYLOAD_TOO_LARGE", `record of ${value.length} bytes is over ${MAX_RECORD_BYTES}`),
      );
    }
    ch.next++;
    ch.counters.appended++;
    return new Promise<number>((resolve, reject) => {
      ch.pending.push({ seq, key, value, resolve, reject });
      schedule(pendingCount() >= config.commitMaxRecords);
    });
  }

  function pendingCount(): number {
    return channels.telemetry.pending.length + channels.events.pending.length;
  }

  function schedule(now: boolean): void {
    if (running) return; // the running commit re-checks when it ends
    if (now) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      running = runCommits();
      return;
    }
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = runCommits();
    }, config.commitIntervalMs);
    timer.unref();
  }

  function hasWork(): boolean {
    return (
      retry !== undefined ||
      !storeOpen ||
      pendingCount() > 0 ||
      CHANNEL_LIST.some(
        (c) => channels[c].ackUpTo >= channels[c].first && channels[c].first < channels[c].committedNext,
      )
    );
  }

  async function runCommits(): Promise<void> {
    try {
      if (!storeOpen) {
        await reopen();
        return;
      }
      // One commit per call; more work that arrived meanwhile waits for the next timer tick (group commit). The
      // free space is the one measured after the last commit: measuring here would let more appends into this one.
      const prepared = retry ?? prepare(diskFree);
      retry = undefined;
      try {
        await reserve(prepared);
        await store.batch(prepared.ops);
      } catch (error) {
        await failed(prepared, error);
        return;
      }
      const healed = failuresInRow > 0;
      failuresInRow = 0;
      commits++;
      apply(prepared);
      if (healed || prepared.gap?.reason === "disk-full") {
        // After a failed write LevelDB's log writer has moved past bytes that never reached the file: everything
        // written to that log since would be unreadable at the next open. A compaction writes the memtable (which
        // holds only what was written) to a table and starts a new log, so the damaged one is dropped unread.
        // And after a disk-full drop: LevelDB frees the dropped records' space only when a compaction rewrites the
        // files holding them; without this, the next commit would still see the disk full and drop again.
        await store.compact().catch((error: unknown) => log.warn({ err: error }, "outbox: compaction failed"));
      }
      await measureDisk();
      if (diskFree >= config.diskReserveBytes + 2 * config.ballastBytes) await store.ballast("restore");
    } finally {
      running = undefined;
      if (hasWork() && state !== "closed") schedule(pendingCount() >= config.commitMaxRecords || acksLeft);
    }
  }

  /** A commit failed: it is kept and retried after a backoff; twice in a row, the store is reopened first. */
  async function failed(prepared: PreparedCommit, error: unknown): Promise<void> {
    commitErrors++;
    failuresInRow++;
    retry = prepared;
    await measureDisk();
    log.error(
      { err: error, failuresInRow, noSpace: isNoSpace(error), diskFreeBytes: diskFree, pending: pendingCount() },
      "outbox commit failed; retrying",
    );
    if (state !== "open") return; // stopping: flush() gives up
    const p = pause(Math.min(RETRY_MS * 2 ** (failuresInRow - 1), RETRY_MAX_MS));
    retryPause = p;
    await p.done;
    retryPause = undefined;
    // Reopening needs room (LevelDB rewrites its log into a table and writes a new manifest): on a disk still full
    // it would fail and leave nothing to read from, while the open store can still be read and drained.
    await measureDisk();
    const roomToReopen = diskFree >= config.diskReserveBytes / 2;
    if (failuresInRow >= REOPEN_AFTER_FAILURES && roomToReopen && state === "open") await reopen();
  }

  /**
   * Closes and opens the store again, recovering as at start. The failed commit is given up: its new records go
   * back to the write buffer and, like everything there, get seqs again after what the store recovered (none of them
   * was ever readable, so no seq of theirs was seen); its acknowledgements and drops are computed afresh.
   */
  async function reopen(): Promise<void> {
    const given = retry;
    retry = undefined;
    if (given) {
      for (const c of CHANNEL_LIST) channels[c].pending = [...given.taken[c], ...channels[c].pending];
      ackWaiters.push(...given.ackWaiters);
    }
    if (storeOpen) {
      storeOpen = false;
      await within(
        store.close().catch(() => {}),
        CLOSE_TIMEOUT_MS,
      );
    }
    let losses: RecoveryLoss[];
    try {
      losses = await openAndRecover();
    } catch (error) {
      storeOpen = false;
      failuresInRow++;
      log.error({ err: error }, "outbox: store could not be reopened; trying again");
      await store.close().catch(() => {});
      const p = pause(Math.min(RETRY_MS * 2 ** (failuresInRow - 1), RETRY_MAX_MS));
      retryPause = p;
      await p.done;
      retryPause = undefined;
      return;
    }
    reopens++;
    failuresInRow = 0;
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      for (const p of ch.pending) {
        p.seq = ch.next++;
        p.key = recordKey(c, p.seq);
      }
    }
    log.warn(
      { reopens, telemetryNext: channels.telemetry.next, eventsNext: channels.events.next },
      "outbox store reopened",
    );
    if (state === "open") announce(losses);
    for (const l of listeners) l();
  }

  function prepare(free: number): PreparedCommit {
    const ops: StoreOp[] = [];
    const taken = {} as PreparedCommit["taken"];
    const removed = {} as PreparedCommit["removed"];
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
    // The budget: maxBytes, or what the file system has free above the reserve if that is less (a record takes
    // about its own size on disk, and compaction shrinks it; each commit measures again, so the estimate corrects
    // itself).
    let limit = config.maxBytes;
    let reason: GapReason = "outbox-full";
    const diskLimit = bytesNow + free - config.diskReserveBytes;
    if (diskLimit < limit) {
      limit = Math.max(0, Math.floor(diskLimit));
      reason = "disk-full";
    }
    // Disk budget: drop the oldest committed telemetry first, then the oldest events (design promise 4).
    let gap: GapInfo | undefined;
    let gapValue: string | undefined;
    const dropCounts: Record<Channel, number> = { telemetry: 0, events: 0 };
    if (bytesAfter > limit) {
      let need = bytesAfter - Math.floor(limit * config.dropToFraction);
      for (const c of CHANNEL_LIST) {
        if (need <= 0) break;
        const ch = channels[c];
        const ackBytes = ch.sizes.countBytes(ackCounts[c]);
        const upTo = ch.sizes.countFor(ackBytes + need);
        const drop = Math.max(0, upTo - ackCounts[c]);
        dropCounts[c] = drop;
        need -= ch.sizes.countBytes(ackCounts[c] + drop) - ackBytes;
      }
      if (need > 0) log.warn({ need, limit, reason }, "outbox: budget smaller than one commit");
      const c: Channel = dropCounts.telemetry > 0 ? "telemetry" : "events";
      if (dropCounts[c] > 0) {
        const ch = channels[c];
        const fromSeq = ch.first + ackCounts[c];
        const count = dropCounts[c];
        const events = channels.events;
        const eventSeq = events.next++;
        events.counters.appended++;
        gap = {
          channel: c,
          reason,
          fromSeq,
          toSeq: fromSeq + count - 1,
          count,
          bytes: ch.sizes.countBytes(ackCounts[c] + count) - ch.sizes.countBytes(ackCounts[c]),
          eventSeq,
        };
        const { ts, timeSource } = now();
        const body: EventBody = {
          ts,
          timeSource,
          type: "gap",
          channel: c,
          fromSeq: gap.fromSeq,
          toSeq: gap.toSeq,
          count,
          reason,
        };
        gapValue = JSON.stringify(body);
        ops.push({ type: "put", key: recordKey("events", eventSeq), value: gapValue });
        // Both channels dropping in one commit would need two gap events; the next commit handles the rest.
        if (c === "telemetry") dropCounts.events = 0;
      }
    }
    // At most commitMaxRecords deletes per channel per commit, when nothing is being dropped: a backlog drains at
    // tens of thousands of records a second, so one 200 ms commit could carry 10,000+ deletes, each an op object,
    // its key, level's encoded copy of both and LevelDB's write batch: several MB alive at once, which V8 then
    // keeps as heap (measured: the agent's heap rose from ~15 to ~30 MB during a 20,000-record drain). The rest
    // follows in the next commit, started at once. Acknowledged records still in the store are only re-sent after
    // a crash, which the bridge deduplicates by seq; the floor always matches what was deleted.
    acksLeft = false;
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
    // ack() resolves once everything it acknowledged is deleted: with acks left over, its waiters wait on.
    const waiters = acksLeft ? [] : ackWaiters;
    if (!acksLeft) ackWaiters = [];
    return { ops, taken, removed, gap, gapValue, ackWaiters: waiters };
  }

  function apply(prepared: PreparedCommit): void {
    let readable = false;
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      const r = prepared.removed[c];
      ch.sizes.shift(r.count);
      ch.first = r.newFirst;
      ch.floor = r.floor;
      ch.counters.acked += r.acked;
      ch.counters.dropped += r.count - r.acked;
      for (const p of prepared.taken[c]) ch.sizes.push(p.key.length + p.value.length);
      const lastTaken = prepared.taken[c].at(-1);
      if (lastTaken) {
        ch.committedNext = lastTaken.seq + 1;
        readable = true;
      }
    }
    if (prepared.gap && prepared.gapValue !== undefined) {
      const events = channels.events;
      // The gap event's seq was taken after every pending event of this batch, so it is the newest committed.
      events.sizes.push(recordKey("events", prepared.gap.eventSeq).length + prepared.gapValue.length);
      events.committedNext = Math.max(events.committedNext, prepared.gap.eventSeq + 1);
      readable = true;
      log.warn(
        { ...prepared.gap, diskFreeBytes: diskFree },
        prepared.gap.reason === "disk-full"
          ? "disk full: dropped the oldest records"
          : "outbox full: dropped the oldest records",
      );
      deps.onGap?.(prepared.gap);
    }
    // "committed" is the promise a crash test holds the outbox to: everything below these seqs is on disk.
    log.debug(
      { committedNext: { telemetry: channels.telemetry.committedNext, events: channels.events.committedNext } },
      "outbox commit",
    );
    for (const c of CHANNEL_LIST) for (const p of prepared.taken[c]) p.resolve(p.seq);
    for (const w of prepared.ackWaiters) w();
    if (readable) for (const l of listeners) l();
  }

  async function read<C extends Channel>(channel: C, fromSeq: number, limit: number): Promise<ChannelRecord[C][]> {
    if (state === "closed" || state === "new") throw new FleetError("FLEET_OUTBOX_CLOSED", `outbox is ${state}`);
    const ch = channels[channel];
    const from = Math.max(fromSeq, ch.first);
    const end = ch.committedNext;
    if (from >= end || limit <= 0 || !storeOpen) return [];
    const rows = await store.list({ gte: recordKey(channel, from), lt: recordKey(channel, end), limit });
    // The envelope is spliced into the stored JSON text and parsed once: one object per record, in the same key
    // order as spreading the body behind it, without a second copy of every record to collect (a backlog drains
    // 1000-record batches back to back, and each short-lived copy pushes V8's heap and the agent's RSS up).
    const head = `{"truckId":${JSON.stringify(deps.truckId)},"stream":${JSON.stringify(stream)},"seq":`;
    return rows.map(
      ([key, value]) =>
        JSON.parse(`${head}${seqOfKey(key)}${value.length > 2 ? "," : ""}${value.slice(1)}`) as ChannelRecord[C],
    );
  }

  function ack(channel: Channel, seq: number): Promise<void> {
    const ch = channels[channel];
    if (seq <= ch.ackUpTo || state === "closed") return Promise.resolve();
    ch.ackUpTo = seq;
    return new Promise((resolve) => {
      ackWaiters.push(resolve);
      schedule(false);
    });
  }

  async function flush(): Promise<void> {
    const errorsBefore = commitErrors;
    while (hasWork() && state !== "closed") {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (!running) running = runCommits();
      await running;
      // A failed commit leaves `retry` set only until the next run takes it again: count failures, not that.
      if (state === "stopping" && commitErrors > errorsBefore) {
        throw new FleetError("FLEET_OUTBOX_IO", "outbox could not commit on stop");
      }
    }
  }

  function stop(): Promise<void> {
    if (state === "new") state = "closed";
    if (state === "closed") return stopping ?? Promise.resolve();
    stopping ??= close();
    return stopping;
  }

  /** Commits what it can within stopTimeoutMs, whatever the disk does, then closes the store. */
  async function close(): Promise<void> {
    state = "stopping";
    retryPause?.cut();
    const began = Date.now();
    let written = false;
    try {
      written = (await within(flush(), config.stopTimeoutMs)) !== "timeout";
    } catch (error) {
      log.error({ err: error }, "outbox: the last commit failed at stop");
    }
    state = "closed";
    if (timer) clearTimeout(timer);
    timer = undefined;
    retryPause?.cut();
    const left = [...(retry ? CHANNEL_LIST.flatMap((c) => retry!.taken[c]) : [])];
    for (const c of CHANNEL_LIST) left.push(...channels[c].pending.splice(0));
    if (!written && left.length === 0) {
      log.warn("outbox: acknowledgements not deleted at stop; those records will be sent again (duplicates)");
    }
    if (left.length > 0) {
      lostAtStop += left.length;
      const error = new FleetError("FLEET_OUTBOX_IO", "outbox stopped before these records could be written");
      log.error(
        { code: error.code, lost: left.length, ms: Date.now() - began },
        "outbox: records still pending at stop were not written",
      );
      for (const p of left) p.reject(error);
    }
    for (const w of ackWaiters) w();
    ackWaiters = [];
    if (storeOpen) {
      // A clean mark says "exactly these seqs": only when everything given out was written.
      if (written && left.length === 0) {
        await within(
          writeMark(true, { telemetry: channels.telemetry.committedNext, events: channels.events.committedNext }).catch(
            (error: unknown) => log.warn({ err: error }, "outbox: clean seq mark not written"),
          ),
          CLOSE_TIMEOUT_MS,
        );
      }
      storeOpen = false;
      const closed = await within(
        store.close().then(
          () => "ok" as const,
          (error: unknown) => log.warn({ err: error }, "outbox: close failed"),
        ),
        CLOSE_TIMEOUT_MS,
      );
      if (closed === "timeout") log.error("outbox: the store did not close in time; leaving it");
    }
    log.info({ stream, ms: Date.now() - began }, "outbox closed");
  }

  function stats(): OutboxStats {
    const out = {} as Record<Channel, ChannelStats>;
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      out[c] = {
        stored: ch.committedNext - ch.first,
        pending: ch.pending.length,
        bytes: ch.sizes.bytes,
        firstSeq: ch.first,
        nextSeq: ch.next,
        ...ch.counters,
      };
    }
    return { stream, commits, commitErrors, reopens, lostAtStop, diskFreeBytes: diskFree, channels: out };
  }

  return {
    start,
    stop,
    get stream() {
      return stream;
    },
    append,
    read,
    ack,
    flush,
    firstSeq: (c) => channels[c].first,
    committedNext: (c) => channels[c].committedNext,
    depth: () =>
      CHANNEL_LIST.reduce((n, c) => n + channels[c].committedNext - channels[c].first + channels[c].pending.length, 0),
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats,
  };
}
