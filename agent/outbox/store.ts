/**
 * The storage the outbox sits on: an ordered key/value store with atomic batches. LevelDB on disk in the agent
 * (level-store.ts); a Map in memory for unit tests. Both run the same contract suite (outbox.contract.ts), the way
 * MQTT.js's stores share one suite, so the queue logic cannot come to depend on one store's quirks.
 */
import type { SeqMark } from "./seq-mark.ts";

export type StoreOp = { type: "put"; key: string; value: string } | { type: "del"; key: string };

export interface StoreRange {
  gte?: string;
  lt?: string;
  limit?: number;
}

export interface OutboxStore {
  open(): Promise<void>;
  /** Applies all ops or none (a crash mid-way leaves the store as before the call). */
  batch(ops: StoreOp[]): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Entries in key order within the range. */
  entries(range: StoreRange): AsyncIterable<[string, string]>;
  /** Entries in key order within the range, at most `limit` of them, in one read. */
  list(range: StoreRange & { limit: number }): Promise<Array<[string, string]>>;
  close(): Promise<void>;
  /** Bytes its file system has free for an unprivileged writer (statfs); Infinity when it has no disk. */
  freeBytes(): Promise<number>;
  /** Turns deleted records back into free space (LevelDB frees nothing until a compaction rewrites its files). */
  compact(): Promise<void>;
  /** After open(): true when recovery dropped data it could not read, or cannot tell that it did not. */
  recoveryLost(): boolean;
  /** The seq mark (seq-mark.ts), stored apart from the records so that losing records cannot lose it. */
  readMark(): SeqMark | undefined;
  writeMark(mark: SeqMark): Promise<void>;
  /**
   * Space set aside so that a full disk can still be opened and compacted: `release` frees it (true when there was
   * any), `restore` sets it aside again once there is room.
   */
  ballast(action: "release" | "restore"): Promise<boolean>;
}

export interface MemoryStoreOptions {
  /** What freeBytes() reports (unit tests of the disk-full policy); Infinity by default. */
  freeBytes?: () => number;
  /** What recoveryLost() reports after open (unit tests of recovery that LevelDB cannot prove whole). */
  recoveryLost?: () => boolean;
}

function inRange(key: string, range: StoreRange): boolean {
  return (range.gte === undefined || key >= range.gte) && (range.lt === undefined || key < range.lt);
}

/**
 * An in-memory store for unit tests. `data` may be shared between instances to model a restart: what a batch
 * committed survives; what was never committed does not.
 */
const MARK_KEY = "~seq-mark"; // outside every range the outbox reads

export function createMemoryStore(
  data: Map<string, string> = new Map(),
  options: MemoryStoreOptions = {},
): OutboxStore {
  let open = false;
  let lost = false;
  const sortedKeys = (range: StoreRange) =>
    [...data.keys()]
      .filter((k) => inRange(k, range))
      .sort()
      .slice(0, range.limit ?? Number.POSITIVE_INFINITY);
  return {
    async open() {
      open = true;
      lost = options.recoveryLost?.() ?? false;
    },
    async batch(ops) {
      if (!open) throw new Error("memory store is not open");
      for (const op of ops) {
        if (op.type === "put") data.set(op.key, op.value);
        else data.delete(op.key);
      }
    },
    async get(key) {
      return data.get(key);
    },
    async *entries(range) {
      for (const key of sortedKeys(range)) {
        const value = data.get(key);
        if (value !== undefined) yield [key, value];
      }
    },
    async list(range) {
      return sortedKeys(range).map((k) => [k, data.get(k)!] as [string, string]);
    },
    async close() {
      open = false;
    },
    freeBytes: async () => options.freeBytes?.() ?? Number.POSITIVE_INFINITY,
    compact: async () => {},
    recoveryLost: () => lost,
    readMark() {
      const text = data.get(MARK_KEY);
      return text === undefined ? undefined : (JSON.parse(text) as SeqMark);
    },
    async writeMark(mark) {
      data.set(MARK_KEY, JSON.stringify(mark));
    },
    ballast: async () => false,
  };
}
