import { mkdir, open as openFile, readFile, statfs, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import { FleetError } from "../../common/errors.ts";
import { MARK_FILE, openSeqMark, type SeqMarkFile } from "./seq-mark.ts";
import type { OutboxStore, StoreOp, StoreRange } from "./store.ts";

export interface LevelStoreOptions {
  dir: string;
  /**
   * fsync each batch. On: a committed batch survives a power cut (the Pi has no UPS); off: it survives a process
   * crash (the OS has the data) but not a power cut. Batches are few per second, so the cost is small.
   */
  sync: boolean;
  /** Bytes set aside in a file of their own, released when LevelDB cannot open or write for lack of space. */
  ballastBytes?: number;
}

const BALLAST_FILE = "fleetsync-ballast";
/** Below this much free space after open, LevelDB may not have been able to write its own report of a recovery. */
const LOG_ROOM_BYTES = 64 * 1024;

function ioError(what: string, dir: string, cause: unknown): FleetError {
  return new FleetError("FLEET_OUTBOX_IO", `outbox ${what} failed in ${dir}: ${(cause as Error).message}`, {
    cause,
    details: { dir },
  });
}

/**
 * What LevelDB's recovery says it could not read. With paranoid checks off (classic-level's only mode), a log
 * record it cannot parse is skipped without an error: the only trace is a line in its info log, `LOG`, which it
 * starts afresh at every open ("<log file>: dropping <n> bytes; Corruption: ..." from db_impl.cc's LogReporter).
 */
async function leveldbDroppedData(dir: string): Promise<boolean> {
  try {
    return /dropping \d+ bytes/.test(await readFile(join(dir, "LOG"), "utf8"));
  } catch {
    return true; // no report at all: nothing proves the recovery whole
  }
}

/** The outbox's LevelDB store (`level` → classic-level on Node). Keys and values are UTF-8 strings. */
export function createLevelStore(options: LevelStoreOptions): OutboxStore {
  const { dir } = options;
  const ballastBytes = options.ballastBytes ?? 0;
  const ballastPath = join(dir, BALLAST_FILE);
  // Made in open(): a Level opens itself on the next tick after construction, and a closed one cannot reopen.
  let db: Level<string, string> = undefined as unknown as Level<string, string>;
  let mark: SeqMarkFile | undefined;
  let lost = false;
  /** Known to be in place: restore() is called after every commit and must then cost nothing. */
  let ballastInPlace = false;

  function newDb(): Level<string, string> {
    return new Level<string, string>(dir, {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
      // The outbox reads each record once, in key order, soon after writing it: a large block cache buys nothing
      // and costs RSS on a Pi (LevelDB's default is 8 MB).
      cacheSize: 1024 * 1024,
      // LevelDB's memtable (default write buffer 4 MB) is malloc'd memory holding every put and every delete since
      // the last flush to a table file; reopening replays the log into it. 1 MB measured 80.3-80.9 MB peak RSS
      // against 82.3-85.4 MB with the default (bench:agent's RSS scenario, three runs each). It still holds about an
      // hour of a truck's records, so table flushes to the SD card stay rare.
      writeBufferSize: 1024 * 1024,
    });
  }

  async function freeBytes(): Promise<number> {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  }

  async function releaseBallast(): Promise<boolean> {
    ballastInPlace = false;
    try {
      await unlink(ballastPath);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes the ballast when it is missing and the disk has room for it and as much again. */
  async function restoreBallast(): Promise<boolean> {
    if (ballastBytes <= 0 || ballastInPlace) return false;
    const handle = await openFile(ballastPath, "wx").catch(() => undefined);
    if (!handle) {
      ballastInPlace = true; // it exists already
      return false;
    }
    try {
      if ((await freeBytes()) < 2 * ballastBytes) throw new Error("no room for the ballast");
      // Written, not truncated to size: a sparse file would reserve nothing.
      const chunk = Buffer.alloc(Math.min(ballastBytes, 64 * 1024));
      for (let at = 0; at < ballastBytes; at += chunk.length) {
        await handle.write(chunk, 0, Math.min(chunk.length, ballastBytes - at), at);
      }
      await handle.sync();
      await handle.close();
      ballastInPlace = true;
      return true;
    } catch {
      await handle.close().catch(() => {});
      await releaseBallast();
      return false;
    }
  }

  const writeOptions = { sync: options.sync };
  return {
    async open() {
      try {
        await mkdir(dir, { recursive: true });
        db = newDb();
        try {
          await db.open({ createIfMissing: true });
        } catch (error) {
          // Opening replays LevelDB's log into a new table file and writes a new manifest: on a full disk that fails
          // and the agent could never start to drain what it has. The ballast is there for this moment.
          if (!(await releaseBallast())) throw error;
          db = newDb();
          await db.open({ createIfMissing: true });
        }
        lost = (await leveldbDroppedData(dir)) || (await freeBytes()) < LOG_ROOM_BYTES;
        mark = await openSeqMark(join(dir, MARK_FILE));
      } catch (error) {
        await db?.close().catch(() => {});
        throw ioError("open", dir, error);
      }
      await restoreBallast();
    },
    async batch(ops: StoreOp[]) {
      try {
        await db.batch(ops, writeOptions);
      } catch (error) {
        throw ioError("write", dir, error);
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
      const m = mark;
      mark = undefined;
      await m?.close().catch(() => {});
      await db.close();
    },
    freeBytes,
    async compact() {
      try {
        // Flushes the memtable (so the log holding the deleted records can go) and rewrites every table; all keys
        // sort between these two ("e:", "m:", "t:").
        // `level` types the browser's store too; on Node it is classic-level, which has compactRange().
        await (db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange("0", "~");
      } catch (error) {
        throw ioError("compaction", dir, error);
      }
    },
    recoveryLost: () => lost,
    readMark: () => mark?.read(),
    async writeMark(value) {
      if (!mark) throw new FleetError("FLEET_CLOSED", "the outbox store is not open");
      try {
        await mark.write(value);
      } catch (error) {
        throw ioError("seq mark write", dir, error);
      }
    },
    ballast: (action) => (action === "release" ? releaseBallast() : restoreBallast()),
  };
}
