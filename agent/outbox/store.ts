/**
 * The storage the outbox sits on: an ordered key/value store with atomic batches. LevelDB on disk in the agent
 * (level-store.ts); a Map in memory for unit tests. Both run the same contract suite (outbox.contract.ts), the way
 * MQTT.js's stores share one suite, so the queue logic cannot come to depend on one store's quirks.
 */
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
}

function inRange(key: string, range: StoreRange): boolean {
  return (range.gte === undefined || key >= range.gte) && (range.lt === undefined || key < range.lt);
}

/**
 * An in-memory store for unit tests. `data` may be shared between instances to model a restart: what a batch
 * committed survives; what was never committed does not.
 */
export function createMemoryStore(data: Map<string, string> = new Map()): OutboxStore {
  let open = false;
  const sortedKeys = (range: StoreRange) =>
    [...data.keys()]
      .filter((k) => inRange(k, range))
      .sort()
      .slice(0, range.limit ?? Number.POSITIVE_INFINITY);
  return {
    async open() {
      open = true;
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
  };
}
