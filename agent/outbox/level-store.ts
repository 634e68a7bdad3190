import { Level } from "level";
import { FleetError } from "../../common/errors.ts";
import type { OutboxStore, StoreOp, StoreRange } from "./store.ts";

export interface LevelStoreOptions {
  dir: string;
  /**
   * fsync each batch. On: a committed batch survives a power cut (the Pi has no UPS); off: it survives a process
   * crash (the OS has the data) but not a power cut. Batches are few per second, so the cost is small.
   */
  sync: boolean;
}

function ioError(what: string, dir: string, cause: unknown): FleetError {
  return new FleetError("FLEET_OUTBOX_IO", `outbox ${what} failed in ${dir}: ${(cause as Error).message}`, {
    cause,
    details: { dir },
  });
}

/** The outbox's LevelDB store (`level` → classic-level on Node). Keys and values are UTF-8 strings. */
export function createLevelStore(options: LevelStoreOptions): OutboxStore {
  const db = new Level<string, string>(options.dir, {
    keyEncoding: "utf8",
    valueEncoding: "utf8",
    // The outbox reads each record once, in key order, soon after writing it: a large block cache buys nothing
    // and costs RSS on a Pi (LevelDB's default is 8 MB).
    cacheSize: 1024 * 1024,
    // LevelDB's memtable (default write buffer 4 MB) is malloc'd memory holding every put and every delete since the
    // last flush to a table file; reopening replays the log into it. 1 MB measured 80.3-80.9 MB peak RSS against
    // 82.3-85.4 MB with the default (bench:agent's RSS scenario, three runs each). It still holds about an hour of
    // a truck's records, so table flushes to the SD card stay rare.
    writeBufferSize: 1024 * 1024,
  });
  const writeOptions = { sync: options.sync };
  return {
    async open() {
      try {
        await db.open({ createIfMissing: true });
      } catch (error) {
        throw ioError("open", options.dir, error);
      }
    },
    async batch(ops: StoreOp[]) {
      try {
        await db.batch(ops, writeOptions);
      } catch (error) {
        throw ioError("write", options.dir, error);
      }
    },
    async get(key) {
      return db.get(key);
    },
    entries(range: StoreRange) {
      return db.iterator(range);
    },
    async list(range) {
      return db.iterator(range).all();
    },
    async close() {
      await db.close();
    },
  };
}
