/** The outbox contract on a real LevelDB on disk (the store the agent runs on). */
import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createOutbox, OutboxConfigSchema, type TelemetryBody } from "../../../agent/outbox/index.ts";
import { createLevelStore } from "../../../agent/outbox/level-store.ts";
import { outboxContract } from "../../../agent/outbox/outbox.contract.ts";

outboxContract("LevelDB on disk", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-outbox-"));
  return {
    open: () => createLevelStore({ dir: join(dir, "db"), sync: true }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("outbox recovery that LevelDB cannot make whole (real LevelDB)", () => {
  let dir = "";
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("never reuses a seq after LevelDB drops a corrupt log block, and announces the seqs it lost", async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-outbox-lossy-"));
    const db = join(dir, "db");
    const config = OutboxConfigSchema.parse({ dir: db, commitIntervalMs: 5, diskReserveBytes: 0, ballastBytes: 0 });
    const body = (i: number): TelemetryBody => ({
      ts: new Date(1_800_000_000_000 + i * 1000).toISOString(),
      timeSource: "gnss",
    });
    // 1. 300 records committed, one commit each, then a crash: the process dies without stop().
    const crashedStore = createLevelStore({ dir: db, sync: true });
    const a = createOutbox(config, { truckId: "LOSSY-1", store: crashedStore, bootId: "boot-a" });
    await a.start();
    const given: number[] = [];
    for (let i = 0; i < 300; i++) given.push(await a.append("telemetry", body(i)));
    await crashedStore.close(); // the files as a crash leaves them: no clean mark
    // 2. The log is damaged in its middle, as a write cut by ENOSPC or a torn sector leaves it.
    const log = (await readdir(db)).find((f) => f.endsWith(".log"))!;
    const handle = await open(join(db, log), "r+");
    const { size } = await handle.stat();
    await handle.write(Buffer.alloc(64, 0xff), 0, 64, Math.floor(size / 2));
    await handle.close();
    // 3. The restart: LevelDB skips what it cannot read; the outbox must not hand out those seqs again.
    const b = createOutbox(config, { truckId: "LOSSY-1", bootId: "boot-a" });
    await b.start();
    try {
      const back = new Set((await b.read("telemetry", 0, 1000)).map((r) => r.seq));
      const missing = given.filter((s) => !back.has(s));
      expect(missing.length, "the damage lost some committed records").toBeGreaterThan(0);
      const next = await b.append("telemetry", body(1000));
      expect(next, "a new record's seq is above every seq ever committed").toBeGreaterThan(Math.max(...given));
      await b.flush();
      const gaps = (await b.read("events", 0, 100)).flatMap((e) =>
        e.type === "gap" && e.reason === "recovery" && e.channel === "telemetry" ? [e] : [],
      );
      expect(gaps.length).toBe(1);
      for (const s of missing) expect(s >= gaps[0]!.fromSeq && s <= gaps[0]!.toSeq, `seq ${s} announced`).toBe(true);
      expect(gaps[0]!.toSeq).toBe(next - 1);
    } finally {
      await b.stop();
    }
  });
});
