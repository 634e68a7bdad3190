/** The outbox's face to the agent and the uplink: append, read from the head, acknowledge, and its counters. */
import type { Logger } from "../../common/log.ts";
import type { Channel, ChannelBody, ChannelRecord, TimeSource } from "../../protocol/index.ts";
import type { GapInfo } from "./gaps.ts";
import type { OutboxStore } from "./store.ts";

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
  /** Telemetry records removed by thinning (whenFull: thin-then-drop), each range announced by a thinned event. */
  thinned: number;
  refused: number;
  /** seqs announced as not brought back by recovery (an upper bound: some may never have held a record). */
  lost: number;
}

export interface OutboxStats {
  stream: string;
  /** The when-full policy (config.whenFull). */
  whenFull: "drop-oldest" | "thin-then-drop";
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
  /**
   * Committed records with seq >= fromSeq, oldest first, at most `limit`. A read is taken to be in flight (never
   * thinned) unless `peek` says it is only looked at (the latest lane's look at the newest record).
   */
  read<C extends Channel>(
    channel: C,
    fromSeq: number,
    limit: number,
    options?: { peek?: boolean },
  ): Promise<ChannelRecord[C][]>;
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
