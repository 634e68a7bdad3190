/**
 * The outbox: every record the agent takes waits here, on disk, until the broker's PUBACK (design promise 1).
 * One ordered queue per channel (telemetry, events), each with its own `seq` within the store's `stream`.
 *
 * This file is the group commit; the outbox's other jobs each have a module: recovery.ts (what is on disk at open,
 * and the seq mark), budget.ts (drop-oldest when the byte budget or the disk is full), thinning.ts (thin-then-drop:
 * what to thin first), gaps.ts (the event that announces a loss), envelope.ts (records read back with their
 * envelope), types.ts (the interface).
 *
 * Thinning (whenFull: thin-then-drop) runs where commits are serialised, before each commit is prepared: when the
 * store is over its budget, one window of the oldest telemetry not yet examined and not yet read by the uplink is
 * read back and chosen from (thinning.ts), and its deletes, its `thinned` event and the watermark ride in that
 * commit's batch. From the moment a pass is chosen until its batch is written, reads stop below the pass's range
 * (a read already under way starts again), so no record the uplink sends can be one that a thinned event announces
 * as removed.
 *
 * Writes are group commits: append() gives the record the next seq at once and resolves when the batch holding
 * it is committed; only committed records are readable (so only they are ever sent). Acknowledgements and drops
 * ride in the same batches: deleting records and raising the channel's floor (the highest seq that ever left) is
 * one atomic write, so after a crash the next seq is above both the highest stored key and the floor, and a seq is
 * never reused by a crash. Before a commit writes a seq at or above the seq mark, the mark is raised (reserve()).
 *
 * The disk: before each commit the file system's free space is read (statfs). A commit that would leave less than
 * `diskReserveBytes` free drops the oldest records with a `disk-full` gap event and compacts the store so the space
 * really comes back. A commit that fails anyway (something else filled the disk) is retried with backoff, new records
 * wait in the bounded write buffer, and after two failures in a row the store is closed and opened again (LevelDB
 * refuses every write after a failed sync until it is reopened; opening may release the ballast). stop() waits at
 * most `stopTimeoutMs`.
 */
import { within } from "../../common/within.ts";
import { readBootId } from "../../common/boot-id.ts";
import { FleetError } from "../../common/errors.ts";
import { LifecycleGuard } from "../../common/lifecycle.ts";
import { silentLogger } from "../../common/log.ts";
import type { Channel, ChannelBody, ChannelRecord, TimeSource } from "../../protocol/index.ts";
import { budgetLimit } from "./budget.ts";
import { applyCommit, newChannelState, type PreparedCommit, prepareCommit, type ThinStep } from "./commit-batch.ts";
import type { OutboxConfig } from "./config.ts";
import { envelopeReader } from "./envelope.ts";
import { gapEvent } from "./gaps.ts";
import { recordKey, seqOfKey } from "./keys.ts";
import { createLevelStore } from "./level-store.ts";
import { CHANNEL_LIST, type RecoveryLoss, recoverStore } from "./recovery.ts";
import type { SeqMark } from "./seq-mark.ts";
import { MAX_RECORD_BYTES } from "./size-queue.ts";
import { selectThinning } from "./thinning.ts";
import type { ChannelStats, Outbox, OutboxDeps, OutboxStats } from "./types.ts";

const RETRY_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** Failed commits in a row after which the store is reopened (LevelDB's error after a failed sync is sticky). */
const REOPEN_AFTER_FAILURES = 2;
/** seqs reserved per write of the seq mark: one small write per this many records, not per commit. */
const SEQ_BLOCK = 4096;
/** Longest wait for the store to close at stop: a hung disk must not hold the process. */
const CLOSE_TIMEOUT_MS = 2_000;
/**
 * Rows one thinning pass reads at most: an hour at 2 Hz (~480 B each, ~3.5 MB of strings on a Pi). A faster
 * record rate makes the pass's range end at this many records instead of at the hour.
 */
const THIN_READ_ROWS = 7_200;

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
  const channels = { telemetry: newChannelState(), events: newChannelState() };
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
  /**
   * start/stop and the refusal after stop (common/lifecycle.ts: FLEET_CLOSED). `state` above stays the commit
   * machinery's own finer phase: appends end when stop begins, while reads and the last flush go on until it closes.
   */
  const life = new LifecycleGuard("the outbox");
  /** The last prepared commit left acknowledged records for the next one (see the cap in prepare()). */
  let acksLeft = false;
  /** The highest seq of each channel a read (not a peek) returned: the uplink may have it in flight. */
  const highestRead: Record<Channel, number> = { telemetry: -1, events: -1 };
  /** A thinning pass is chosen and not yet written: telemetry reads stop below this seq. */
  let thinHold: number | undefined;
  /** Changes whenever a pass is chosen: a read that began before must read again (its rows may be thinned). */
  let thinEpoch = 0;

  function start(): Promise<void> {
    return life.start(open);
  }

  async function open(): Promise<void> {
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

  /** Opens the store and sets every channel's positions from what is on disk and the seq mark (recovery.ts). */
  async function openAndRecover(): Promise<RecoveryLoss[]> {
    await store.open();
    storeOpen = true;
    const found = await recoverStore(store, { sync: config.sync, bootId, log });
    stream = found.stream;
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      const r = found.channels[c];
      ch.sizes = r.sizes;
      ch.floor = r.floor;
      ch.thinnedUpTo = r.thinnedUpTo;
      ch.first = r.first;
      ch.committedNext = r.next;
      ch.next = r.next;
    }
    await measureDisk();
    // Running from here on: the mark is unclean and reserves the next block of seqs.
    await writeMark(false, {
      telemetry: channels.telemetry.next + SEQ_BLOCK,
      events: channels.events.next + SEQ_BLOCK,
    });
    return found.losses;
  }

  /** Queues a gap event per loss recovery found (written with the next commit, like any event). */
  function announce(losses: RecoveryLoss[]): void {
    for (const l of losses) {
      channels[l.channel].counters.lost += l.toSeq - l.fromSeq + 1;
      append("events", gapEvent(now(), { ...l, reason: "recovery" })).catch((error: unknown) =>
        log.error({ err: error }, "outbox: recovery gap not written"),
      );
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
      events: Math.max(
        prepared.taken.events.at(-1)?.seq ?? -1,
        prepared.gap?.eventSeq ?? -1,
        prepared.thinned?.info.eventSeq ?? -1,
      ),
    };
    const current = mark?.next ?? { telemetry: 0, events: 0 };
    if (mark && !mark.clean && CHANNEL_LIST.every((c) => highest[c] < current[c])) return;
    await writeMark(false, {
      telemetry: Math.max(current.telemetry, highest.telemetry + 1 + SEQ_BLOCK),
      events: Math.max(current.events, highest.events + 1 + SEQ_BLOCK),
    });
  }

  function append<C extends Channel>(channel: C, body: ChannelBody[C]): Promise<number> {
    if (state !== "open") return Promise.reject(refused("append"));
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
      // Only a store over its budget waits for a pass: the check is synchronous, so that otherwise the commit takes
      // exactly what is pending now (group commit sizes stay as they were).
      const thin = retry || !overBudget() ? undefined : await planThinning();
      const prepared = retry ?? prepare(diskFree, thin);
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
      const freedDisk = prepared.gap?.reason === "disk-full" || (prepared.thinned && prepared.reason === "disk-full");
      if (healed || freedDisk) {
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
    thinHold = undefined; // a pass in the given-up commit is chosen afresh
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

  /** thin-then-drop, and this commit would leave the store over its budget (pending records counted). */
  function overBudget(): boolean {
    if (config.whenFull !== "thin-then-drop" || !storeOpen) return false;
    let bytesNow = 0;
    let bytesAfter = 0;
    for (const c of CHANNEL_LIST) {
      bytesNow += channels[c].sizes.bytes;
      bytesAfter += channels[c].sizes.bytes;
      for (const p of channels[c].pending) bytesAfter += p.key.length + p.value.length;
    }
    return bytesAfter > budgetLimit({ ...config, freeBytes: diskFree, bytesNow }).limit;
  }

  /**
   * Chooses the next thinning pass (or says that telemetry can still be thinned although this commit cannot, so
   * nothing is dropped yet). Undefined: nothing left to thin, drop as drop-oldest does.
   */
  async function planThinning(): Promise<ThinStep | undefined> {
    const t = channels.telemetry;
    const from = Math.max(t.first, t.thinnedUpTo + 1, highestRead.telemetry + 1, t.ackUpTo + 1);
    if (from >= t.committedNext) return undefined;
    let rows: Array<[string, string]>;
    try {
      rows = await store.list({
        gte: recordKey("telemetry", from),
        lt: recordKey("telemetry", t.committedNext),
        limit: THIN_READ_ROWS,
      });
    } catch (error) {
      // The commit must still happen (its records wait on it): this one goes on under drop-oldest.
      log.warn({ err: error }, "outbox: thinning could not read the store; dropping instead this time");
      return undefined;
    }
    const plan = selectThinning(
      rows,
      { keepEveryMs: config.thinKeepEveryS * 1000, windowMs: config.thinWindowS * 1000 },
      rows.length === THIN_READ_ROWS,
    );
    if (!plan) return undefined; // only the newest window is left, still open: drop
    // The uplink read into the range while we chose: choose again at the next commit, drop nothing meanwhile.
    if (plan.fromSeq <= highestRead.telemetry || plan.fromSeq <= t.ackUpTo) return { plan: undefined };
    thinHold = plan.fromSeq;
    thinEpoch++;
    return { plan };
  }

  /** The next batch (commit-batch.ts), with the ack() calls it fully settles. */
  function prepare(free: number, thin: ThinStep | undefined): PreparedCommit {
    const { batch, shortBy, acksLeft: left } = prepareCommit(channels, free, config, now, thin);
    if (shortBy > 0)
      log.warn({ need: shortBy, limit: batch.limit, reason: batch.reason }, "outbox: budget smaller than one commit");
    acksLeft = left;
    // ack() resolves once everything it acknowledged is deleted: with acks left over, its waiters wait on.
    const waiters = acksLeft ? [] : ackWaiters;
    if (!acksLeft) ackWaiters = [];
    return { ...batch, ackWaiters: waiters };
  }

  function apply(prepared: PreparedCommit): void {
    const readable = applyCommit(channels, prepared);
    if (prepared.thinned) {
      thinHold = undefined;
      const { info } = prepared.thinned;
      log.info(
        { fromSeq: info.fromSeq, toSeq: info.toSeq, removed: info.count, bytes: info.bytes, eventSeq: info.eventSeq },
        "outbox over its budget: thinned the oldest telemetry",
      );
    }
    if (prepared.gap) {
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

  async function read<C extends Channel>(
    channel: C,
    fromSeq: number,
    limit: number,
    options: { peek?: boolean } = {},
  ): Promise<ChannelRecord[C][]> {
    if (state === "closed" || state === "new") throw refused("read");
    const ch = channels[channel];
    for (;;) {
      const epoch = thinEpoch;
      const from = Math.max(fromSeq, ch.first);
      const end =
        channel === "telemetry" && thinHold !== undefined ? Math.min(ch.committedNext, thinHold) : ch.committedNext;
      if (from >= end || limit <= 0 || !storeOpen) return [];
      const rows = await store.list({ gte: recordKey(channel, from), lt: recordKey(channel, end), limit });
      // A pass was chosen while we read: what we read may be in its range (the store's read is a snapshot).
      if (epoch !== thinEpoch) continue;
      const last = rows.at(-1);
      if (!options.peek && last) highestRead[channel] = Math.max(highestRead[channel], seqOfKey(last[0]));
      return envelopeReader(deps.truckId, stream)<C>(rows);
    }
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

  /** FLEET_CLOSED, the one code for a call to a component that is stopped (or, here, not yet started). */
  function refused(what: string): FleetError {
    const why = life.closed ? "is stopped" : "is not started";
    return new FleetError("FLEET_CLOSED", `the outbox ${why}: ${what} refused`, { details: { state: life.state } });
  }

  function stop(): Promise<void> {
    // The guard runs this once, after a start in progress settled. Never opened (stop before start, or a start
    // that failed before the store was open): nothing to commit, only the store to release.
    return life.stop(async () => {
      if (state === "open") return close();
      state = "closed";
      if (storeOpen) {
        storeOpen = false;
        await within(
          store.close().catch(() => {}),
          CLOSE_TIMEOUT_MS,
        );
      }
    });
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
    return {
      stream,
      whenFull: config.whenFull,
      commits,
      commitErrors,
      reopens,
      lostAtStop,
      diskFreeBytes: diskFree,
      channels: out,
    };
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
