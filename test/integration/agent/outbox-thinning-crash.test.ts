/**
 * A crash on either side of a thinning pass's batch (whenFull thin-then-drop, real LevelDB on disk). The pass's
 * deletes, its thinned event and its watermark are one LevelDB batch: a crash before it is written leaves the
 * window whole and unannounced (a later pass thins it), a crash after it is written but before the outbox moved its
 * positions leaves it thinned and announced exactly once. Deterministic: the store stops the process at the chosen
 * point (the batch never reaches the disk, or reaches it and never returns), the way a power cut does. The process
 * version, SIGKILL at whatever phase the passes are in, is test/faults/outbox-thinning-sigkill.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createOutbox, OutboxConfigSchema, type TelemetryBody } from "../../../agent/outbox/index.ts";
import { thinnedKey } from "../../../agent/outbox/keys.ts";
import { createLevelStore } from "../../../agent/outbox/level-store.ts";
import type { OutboxStore } from "../../../agent/outbox/store.ts";
import type { EventRecord } from "../../../protocol/index.ts";

const body = (i: number): TelemetryBody => ({
  ts: new Date(1_800_000_000_000 + i * 1000).toISOString(),
  timeSource: "gnss",
  gps: { fix: "3d", lat: 52.5, lon: 13.4, altM: 40, speedKmh: 50, courseDeg: 90, sats: 9, hdop: 0.9 },
});
type Thinned = Extract<EventRecord, { type: "thinned" }>;

describe("outbox: a crash around a thinning batch (real LevelDB)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const when of ["before", "after"] as const) {
    it(`crash ${when} the pass's batch is written: the window is ${when === "before" ? "whole and unannounced" : "thinned and announced once"}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "fleetsync-thin-crash-"));
      dirs.push(dir);
      const db = join(dir, "db");
      const config = OutboxConfigSchema.parse({
        dir: db,
        commitIntervalMs: 5,
        commitMaxRecords: 20,
        diskReserveBytes: 0,
        ballastBytes: 0,
        maxBytes: 64 * 1024,
        whenFull: "thin-then-drop",
        thinWindowS: 60,
        thinKeepEveryS: 10,
      });
      // 1. Records until the first pass; its batch is where the power goes.
      const inner = createLevelStore({ dir: db, sync: true });
      let crashed = false;
      let cut = () => {};
      const power = new Promise<void>((resolve) => {
        cut = resolve;
      });
      const store: OutboxStore = {
        ...inner,
        async batch(ops) {
          if (crashed) return new Promise<void>(() => {}); // nothing after the cut
          if (ops.some((op) => op.type === "put" && op.key === thinnedKey("telemetry"))) {
            crashed = true;
            cut();
            if (when === "after") await inner.batch(ops);
            return new Promise<void>(() => {});
          }
          return inner.batch(ops);
        },
      };
      const a = createOutbox(config, { truckId: "THIN-1", store, bootId: "boot-a" });
      await a.start();
      let made = 0;
      // Each append resolves when its commit returns; the one riding in the cut batch never does.
      while (!crashed) await Promise.race([a.append("telemetry", body(made++)), power]);
      // Appended after the cut: it never commits (its promise never settles), and must not appear after the restart.
      void a.append("events", { ...body(0), type: "ignition", on: true });
      await inner.close(); // the files as the cut leaves them: no clean mark, the outbox never stopped

      // 2. The restart: consistent, no surprise about holes, and the pass's fate is all or nothing.
      const lines: string[] = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
      const b = createOutbox(config, { truckId: "THIN-1", bootId: "boot-a", logger });
      await b.start();
      try {
        const kept = (await b.read("telemetry", 0, 100_000, { peek: true })).map((r) => r.seq);
        const events = await b.read("events", 0, 1000, { peek: true });
        const thinned = events.filter((e): e is Thinned => e.type === "thinned");
        expect(lines.filter((l) => l.includes("hole in stored seqs"))).toEqual([]);
        expect(events.filter((e) => e.type === "ignition")).toEqual([]);
        if (when === "before") {
          expect(thinned).toEqual([]);
          expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i));
        } else {
          expect(thinned).toHaveLength(1);
          const t = thinned[0]!;
          expect(t).toMatchObject({ fromSeq: 0, keptEveryS: 10 });
          const holes = Array.from({ length: t.toSeq + 1 }, (_, i) => i).filter((s) => !kept.includes(s));
          expect(holes.length).toBe(t.count);
          expect(kept.filter((s) => s > t.toSeq)).toEqual(
            Array.from({ length: kept.at(-1)! - t.toSeq }, (_, i) => t.toSeq + 1 + i),
          );
        }
        // 3. Going on, the next pass starts right after what the crashed one settled: no range twice, none skipped.
        const eventsFrom = b.committedNext("events");
        for (let i = 0; i < 300; i++) await b.append("telemetry", body(made + i));
        const next = (await b.read("events", eventsFrom, 1000, { peek: true })).filter(
          (e): e is Thinned => e.type === "thinned",
        );
        expect(next.length).toBeGreaterThan(0);
        expect(next[0]!.fromSeq).toBe(when === "before" ? 0 : thinned[0]!.toSeq + 1);
        const stats = b.stats().channels;
        expect(stats.telemetry.bytes + stats.events.bytes).toBeLessThanOrEqual(64 * 1024);
      } finally {
        await b.stop();
      }
    });
  }
});
