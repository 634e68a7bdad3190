/**
 * The outbox: every record the agent takes waits here, on disk, until the broker's PUBACK (design promise 1).
 * One ordered queue per channel (telemetry, events), each with its own `seq` within the store's `stream`.
 *
 * Writes are group commits: append() gives the record the next seq at once and resolves when the batch holding
 * it is committed; only committed records are readable (so only they are ever sent). Acknowledgements and drops
 * ride in the same batches: deleting records and raising the channel's floor (the highest seq that ever left) is
 * one atomic write, so after a crash the next seq is above both the highest stored key and the floor, and a seq is
 * never reused. The store is contiguous per channel (records only ever leave from the head), which lets deletes
 * be computed from seq without reading.
 */
import { randomBytes } from "node:crypto";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import type { Channel, EventRecord, TelemetryRecord, TimeSource } from "../../protocol/index.ts";
import type { OutboxConfig } from "./config.ts";
import { channelRange, floorKey, META_CREATED, META_STREAM, recordKey, seqOfKey } from "./keys.ts";
import { createLevelStore } from "./level-store.ts";
import { MAX_RECORD_BYTES, SizeQueue } from "./size-queue.ts";
import type { OutboxStore, StoreOp } from "./store.ts";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type EnvelopeKey = "truckId" | "stream" | "seq";
export type TelemetryBody = Omit<TelemetryRecord, EnvelopeKey>;
export type EventBody = DistributiveOmit<EventRecord, EnvelopeKey>;
export interface ChannelBody {
  telemetry: TelemetryBody;
  events: EventBody;
}
export interface ChannelRecord {
  telemetry: TelemetryRecord;
  events: EventRecord;
}

export interface GapInfo {
  channel: Channel;
  fromSeq: number;
  toSeq: number;
  count: number;
  bytes: number;
  /** seq of the gap event on the events channel. */
  eventSeq: number;
}

export interface OutboxDeps {
  truckId: string;
  /** Defaults to LevelDB in config.dir. */
  store?: OutboxStore;
  logger?: Logger;
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
}

export interface OutboxStats {
  stream: string;
  commits: number;
  commitErrors: number;
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
  counters: { appended: number; acked: number; dropped: number; refused: number };
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

function systemNow(): { ts: string; timeSource: TimeSource } {
  return { ts: new Date().toISOString(), timeSource: "system" };
}

export function createOutbox(config: OutboxConfig, deps: OutboxDeps): Outbox {
  const store = deps.store ?? createLevelStore({ dir: config.dir, sync: config.sync });
  const log = deps.logger ?? silentLogger;
  const now = deps.now ?? systemNow;
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
      counters: { appended: 0, acked: 0, dropped: 0, refused: 0 },
    };
  }
  const listeners = new Set<() => void>();
  let stream = "";
  let state: "new" | "open" | "stopping" | "closed" = "new";
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let retry: PreparedCommit | undefined;
  let commits = 0;
  let commitErrors = 0;
  let ackWaiters: Array<() => void> = [];
  let stopping: Promise<void> | undefined;
  /** The last prepared commit left acknowledged records for the next one (see the cap in prepare()). */
  let acksLeft = false;

  async function start(): Promise<void> {
    if (state !== "new") throw new FleetError("FLEET_OUTBOX_CLOSED", "outbox was already started");
    await store.open();
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
    state = "open";
    log.info(
      {
        stream,
        telemetry: { first: channels.telemetry.first, next: channels.telemetry.next },
        events: { first: channels.events.first, next: channels.events.next },
      },
      "outbox opened",
    );
  }

  async function recover(channel: Channel): Promise<void> {
    const ch = channels[channel];
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
      if (last >= 0 && seq !== last + 1) log.warn({ channel, after: last, seq }, "outbox: hole in stored seqs");
      last = seq;
      ch.sizes.push(key.length + value.length);
    }
    if (stale.length > 0) await store.batch(stale);
    const next = Math.max(last + 1, ch.floor + 1);
    ch.first = first < 0 ? next : first;
    ch.committedNext = next;
    ch.next = next;
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
      pendingCount() > 0 ||
      CHANNEL_LIST.some(
        (c) => channels[c].ackUpTo >= channels[c].first && channels[c].first < channels[c].committedNext,
      )
    );
  }

  async function runCommits(): Promise<void> {
    try {
      // One commit per call; more work that arrived meanwhile waits for the next timer tick (group commit).
      const prepared = retry ?? prepare();
      retry = undefined;
      try {
        await store.batch(prepared.ops);
      } catch (error) {
        commitErrors++;
        retry = prepared;
        log.error({ err: error }, "outbox commit failed; retrying");
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
        return;
      }
      commits++;
      apply(prepared);
    } finally {
      running = undefined;
      if (hasWork() && state !== "closed") schedule(pendingCount() >= config.commitMaxRecords || acksLeft);
    }
  }

  function prepare(): PreparedCommit {
    const ops: StoreOp[] = [];
    const taken = {} as PreparedCommit["taken"];
    const removed = {} as PreparedCommit["removed"];
    let bytesAfter = 0;
    const ackCounts = {} as Record<Channel, number>;
    for (const c of CHANNEL_LIST) {
      const ch = channels[c];
      taken[c] = ch.pending;
      ch.pending = [];
      const ackEnd = Math.min(ch.ackUpTo, ch.committedNext - 1);
      const ackCount = ackEnd >= ch.first ? ackEnd - ch.first + 1 : 0;
      ackCounts[c] = ackCount;
      const pendingBytes = taken[c].reduce((n, p) => n + p.key.length + p.value.length, 0);
      bytesAfter += ch.sizes.bytes - ch.sizes.countBytes(ackCount) + pendingBytes;
    }
    // Disk budget: drop the oldest committed telemetry first, then the oldest events (design promise 4).
    let gap: GapInfo | undefined;
    let gapValue: string | undefined;
    const dropCounts: Record<Channel, number> = { telemetry: 0, events: 0 };
    if (bytesAfter > config.maxBytes) {
      let need = bytesAfter - Math.floor(config.maxBytes * config.dropToFraction);
      for (const c of CHANNEL_LIST) {
        if (need <= 0) break;
        const ch = channels[c];
        const ackBytes = ch.sizes.countBytes(ackCounts[c]);
        const upTo = ch.sizes.countFor(ackBytes + need);
        const drop = Math.max(0, upTo - ackCounts[c]);
        dropCounts[c] = drop;
        need -= ch.sizes.countBytes(ackCounts[c] + drop) - ackBytes;
      }
      if (need > 0) log.warn({ need, maxBytes: config.maxBytes }, "outbox: budget smaller than one commit");
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
          reason: "outbox-full",
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
      log.warn({ ...prepared.gap, reason: "outbox-full" }, "outbox full: dropped the oldest records");
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
    if (from >= end || limit <= 0) return [];
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
    while (hasWork()) {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (!running) running = runCommits();
      await running;
      if (retry && state === "stopping") throw new FleetError("FLEET_OUTBOX_IO", "outbox could not commit on stop");
    }
  }

  function stop(): Promise<void> {
    if (state === "new") state = "closed";
    if (state === "closed") return stopping ?? Promise.resolve();
    stopping ??= close();
    return stopping;
  }

  async function close(): Promise<void> {
    state = "stopping";
    try {
      await flush();
    } catch (error) {
      log.error({ err: error }, "outbox: records still pending at stop were not written");
      for (const c of CHANNEL_LIST) for (const p of channels[c].pending) p.reject(error);
    } finally {
      if (timer) clearTimeout(timer);
      timer = undefined;
      state = "closed";
      for (const w of ackWaiters) w();
      ackWaiters = [];
      await store.close();
      log.info({ stream }, "outbox closed");
    }
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
    return { stream, commits, commitErrors, channels: out };
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
