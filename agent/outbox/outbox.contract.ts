/**
 * The outbox contract: every store the outbox can sit on runs this one suite (the in-memory store in the unit
 * project, LevelDB on disk in the integration project). A test that passes on one store and fails on another
 * means the queue logic leans on a store quirk.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import {
  type EventRecord,
  EventRecordSchema,
  StreamIdSchema,
  type TelemetryBody,
  TelemetryRecordSchema,
} from "../../protocol/index.ts";
import { type OutboxConfigInput, OutboxConfigSchema } from "./config.ts";
import { createOutbox } from "./outbox.ts";
import type { Outbox } from "./types.ts";
import type { OutboxStore } from "./store.ts";

export interface StoreEnv {
  /** A store over this environment's data; calling it again models a restart on the same disk. */
  open(): OutboxStore;
  cleanup(): Promise<void>;
}

const TRUCK = "TRUCK-7";

function body(i: number): TelemetryBody {
  return {
    ts: new Date(Date.UTC(2026, 10, 21, 5, 0, 0) + i * 1000).toISOString(),
    timeSource: "gnss",
    gps: { fix: "3d", lat: 52.5, lon: 13.4, altM: 40, speedKmh: 50, courseDeg: (i % 3600) / 10, sats: 9, hdop: 0.9 },
    engine: { engineSpeedRpm: 1200 + (i % 100) },
  };
}

export function outboxContract(name: string, makeEnv: () => Promise<StoreEnv>): void {
  describe(`outbox contract: ${name}`, () => {
    async function withOutbox<T>(
      env: StoreEnv,
      overrides: Partial<OutboxConfigInput>,
      fn: (o: Outbox, commits: () => number) => Promise<T>,
      logger?: pino.Logger,
    ): Promise<T> {
      const inner = env.open();
      let batches = 0;
      const store: OutboxStore = {
        ...inner,
        batch: (ops) => {
          batches++;
          return inner.batch(ops);
        },
      };
      const config = OutboxConfigSchema.parse({ dir: "unused-by-injected-store", commitIntervalMs: 20, ...overrides });
      const outbox = createOutbox(config, {
        truckId: TRUCK,
        store,
        now: () => ({ ts: body(0).ts, timeSource: "gnss" }),
        ...(logger ? { logger } : {}),
      });
      await outbox.start();
      try {
        return await fn(outbox, () => batches);
      } finally {
        await outbox.stop();
      }
    }

    it("gives each channel its own seq from 0 and reads committed records back with the envelope", async () => {
      const env = await makeEnv();
      try {
        await withOutbox(env, {}, async (o) => {
          expect(StreamIdSchema.safeParse(o.stream).success).toBe(true);
          const seqs = await Promise.all([0, 1, 2].map((i) => o.append("telemetry", body(i))));
          const ev = await o.append("events", { ts: body(0).ts, timeSource: "system", type: "ignition", on: true });
          expect(seqs).toEqual([0, 1, 2]);
          expect(ev).toBe(0);
          const read = await o.read("telemetry", 0, 10);
          expect(read.map((r) => r.seq)).toEqual([0, 1, 2]);
          for (const r of read) expect(TelemetryRecordSchema.parse(r)).toEqual(r);
          expect(read[1]).toMatchObject({ truckId: TRUCK, stream: o.stream, ...body(1) });
          const events = await o.read("events", 0, 10);
          expect(EventRecordSchema.parse(events[0])).toMatchObject({ type: "ignition", seq: 0, stream: o.stream });
        });
      } finally {
        await env.cleanup();
      }
    });

    it("makes a record readable only once its batch is committed, and groups appends into few writes", async () => {
      const env = await makeEnv();
      try {
        await withOutbox(env, { commitIntervalMs: 60_000, commitMaxRecords: 500 }, async (o, commits) => {
          const before = commits();
          const first = o.append("telemetry", body(0));
          expect(await o.read("telemetry", 0, 10)).toEqual([]);
          expect(o.depth()).toBe(1);
          const rest = Array.from({ length: 999 }, (_, i) => o.append("telemetry", body(i + 1)));
          await Promise.all([first, ...rest]);
          // 1000 records at commitMaxRecords 500: two writes, not a thousand.
          expect(commits() - before).toBe(2);
          expect((await o.read("telemetry", 0, 2000)).length).toBe(1000);
        });
      } finally {
        await env.cleanup();
      }
    });

    it("removes acknowledged records and keeps the rest in order", async () => {
      const env = await makeEnv();
      try {
        await withOutbox(env, {}, async (o) => {
          await Promise.all(Array.from({ length: 10 }, (_, i) => o.append("telemetry", body(i))));
          await o.ack("telemetry", 5);
          expect(o.firstSeq("telemetry")).toBe(6);
          expect((await o.read("telemetry", 0, 100)).map((r) => r.seq)).toEqual([6, 7, 8, 9]);
          expect(o.depth()).toBe(4);
          expect(o.stats().channels.telemetry.acked).toBe(6);
        });
      } finally {
        await env.cleanup();
      }
    });

    it("after a restart keeps the stream and the unacknowledged records, and never reuses a seq", async () => {
      const env = await makeEnv();
      try {
        const stream = await withOutbox(env, {}, async (o) => {
          await Promise.all(Array.from({ length: 20 }, (_, i) => o.append("telemetry", body(i))));
          await o.append("events", { ts: body(0).ts, timeSource: "gnss", type: "ignition", on: true });
          await o.ack("telemetry", 9);
          await o.ack("events", 0);
          return o.stream;
        });
        await withOutbox(env, {}, async (o) => {
          expect(o.stream).toBe(stream);
          expect((await o.read("telemetry", 0, 100)).map((r) => r.seq)).toEqual(
            Array.from({ length: 10 }, (_, i) => i + 10),
          );
          // Everything acknowledged on events: the store holds none, yet seq continues above the floor.
          expect(await o.read("events", 0, 10)).toEqual([]);
          expect(await o.append("events", { ts: body(0).ts, timeSource: "gnss", type: "ignition", on: false })).toBe(1);
          expect(await o.append("telemetry", body(99))).toBe(20);
          await o.ack("telemetry", 20);
        });
        await withOutbox(env, {}, async (o) => {
          expect(await o.read("telemetry", 0, 10)).toEqual([]);
          expect(await o.append("telemetry", body(100))).toBe(21);
        });
      } finally {
        await env.cleanup();
      }
    });

    it("starts a new random stream when the store is created afresh", async () => {
      const a = await makeEnv();
      const b = await makeEnv();
      try {
        const sa = await withOutbox(a, {}, async (o) => o.stream);
        const sb = await withOutbox(b, {}, async (o) => o.stream);
        expect(sa).not.toBe(sb);
      } finally {
        await a.cleanup();
        await b.cleanup();
      }
    });

    it("over the disk budget drops the oldest telemetry, keeps the newest, and records a gap event naming them", async () => {
      const env = await makeEnv();
      try {
        const gaps: number[][] = [];
        await withOutbox(env, { maxBytes: 64 * 1024, commitMaxRecords: 50 }, async (o) => {
          await o.append("events", { ts: body(0).ts, timeSource: "gnss", type: "ignition", on: true });
          const total = 2000;
          for (let i = 0; i < total; i += 50) {
            await Promise.all(Array.from({ length: 50 }, (_, j) => o.append("telemetry", body(i + j))));
          }
          const stats = o.stats().channels.telemetry;
          expect(stats.bytes + o.stats().channels.events.bytes).toBeLessThanOrEqual(64 * 1024);
          const kept = (await o.read("telemetry", 0, total)).map((r) => r.seq);
          // The newest stay, contiguous up to the last one appended.
          expect(kept.at(-1)).toBe(total - 1);
          expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]! + i));
          const events = await o.read("events", 0, 1000);
          expect(events[0]).toMatchObject({ type: "ignition", seq: 0 });
          const gapEvents = events.filter((e) => e.type === "gap");
          expect(gapEvents.length).toBeGreaterThan(0);
          let expectedFrom = 0;
          for (const g of gapEvents) {
            if (g.type !== "gap") throw new Error("unreachable");
            expect(g).toMatchObject({ channel: "telemetry", fromSeq: expectedFrom, reason: "outbox-full" });
            expect(g.count).toBe(g.toSeq - g.fromSeq + 1);
            gaps.push([g.fromSeq, g.toSeq]);
            expectedFrom = g.toSeq + 1;
          }
          // Exactly the records the gaps name are gone; nothing else is.
          expect(kept[0]).toBe(expectedFrom);
          expect(stats.dropped).toBe(expectedFrom);
          expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
        });
        expect(gaps.length).toBeGreaterThan(0);
      } finally {
        await env.cleanup();
      }
    });

    describe("thin-then-drop", () => {
      // An hour's window is 3,600 records at 1 Hz: the contract uses one-minute windows (60 records, 6 kept).
      const thin = { whenFull: "thin-then-drop", thinWindowS: 60, thinKeepEveryS: 10, commitMaxRecords: 50 } as const;

      async function appendRange(o: Outbox, from: number, to: number): Promise<void> {
        for (let i = from; i < to; i += 50) {
          await Promise.all(Array.from({ length: Math.min(50, to - i) }, (_, j) => o.append("telemetry", body(i + j))));
        }
      }

      type Thinned = Extract<EventRecord, { type: "thinned" }>;
      type Gap = Extract<EventRecord, { type: "gap" }>;
      const thinnedOf = (events: EventRecord[]) => events.filter((e): e is Thinned => e.type === "thinned");
      const gapsOf = (events: EventRecord[]) => events.filter((e): e is Gap => e.type === "gap");

      /** Every seq below `total` is kept, inside a thinned range, or inside a gap; thinned counts match their holes. */
      function account(kept: number[], thinned: Thinned[], gaps: Gap[], total: number) {
        const keptSet = new Set(kept);
        const inRange = (seq: number, ranges: Array<{ fromSeq: number; toSeq: number }>) =>
          ranges.some((r) => seq >= r.fromSeq && seq <= r.toSeq);
        let dropped = 0;
        let thinnedHoles = 0;
        for (let seq = 0; seq < total; seq++) {
          if (keptSet.has(seq)) continue;
          if (inRange(seq, gaps)) dropped++;
          else if (inRange(seq, thinned)) thinnedHoles++;
          else throw new Error(`seq ${seq} is missing without an announcement`);
        }
        // A range no gap touched: exactly `count` of its seqs are missing.
        const lastGap = Math.max(-1, ...gaps.map((g) => g.toSeq));
        for (const t of thinned.filter((r) => r.fromSeq > lastGap)) {
          let holes = 0;
          for (let seq = t.fromSeq; seq <= t.toSeq; seq++) if (!keptSet.has(seq)) holes++;
          expect(holes, `holes in ${t.fromSeq}..${t.toSeq}`).toBe(t.count);
        }
        return { kept: kept.length, thinned: thinnedHoles, dropped };
      }

      it("over the budget thins the oldest telemetry window by window, announces each range, drops nothing", async () => {
        const env = await makeEnv();
        try {
          await withOutbox(env, { ...thin, maxBytes: 128 * 1024 }, async (o) => {
            await o.append("events", { ts: body(0).ts, timeSource: "gnss", type: "ignition", on: true });
            const total = 1500;
            await appendRange(o, 0, total);
            const kept = (await o.read("telemetry", 0, total)).map((r) => r.seq);
            const events = await o.read("events", 0, 1000);
            expect(events[0]).toMatchObject({ type: "ignition", seq: 0 });
            expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
            expect(gapsOf(events)).toEqual([]);
            const thinned = thinnedOf(events);
            expect(thinned.length).toBeGreaterThan(5);
            // Oldest first, one window after the other, each one minute of records with one per 10 s kept.
            expect(thinned[0]).toMatchObject({
              channel: "telemetry",
              fromSeq: 0,
              toSeq: 59,
              count: 54,
              keptEveryS: 10,
            });
            for (let i = 1; i < thinned.length; i++) expect(thinned[i]!.fromSeq).toBe(thinned[i - 1]!.toSeq + 1);
            const sum = account(kept, thinned, [], total);
            expect(sum.kept + sum.thinned).toBe(total);
            expect(o.stats().channels.telemetry).toMatchObject({ thinned: sum.thinned, dropped: 0 });
            // The newest records are all there.
            expect(kept.slice(-100)).toEqual(Array.from({ length: 100 }, (_, i) => total - 100 + i));
            const stats = o.stats().channels;
            expect(stats.telemetry.bytes + stats.events.bytes).toBeLessThanOrEqual(128 * 1024);
          });
        } finally {
          await env.cleanup();
        }
      });

      it("drops only once nothing is left to thin, never an event, and every loss is announced", async () => {
        const env = await makeEnv();
        try {
          await withOutbox(env, { ...thin, maxBytes: 64 * 1024 }, async (o) => {
            await o.append("events", { ts: body(0).ts, timeSource: "gnss", type: "ignition", on: true });
            const total = 5000;
            await appendRange(o, 0, total);
            const kept = (await o.read("telemetry", 0, total)).map((r) => r.seq);
            const events = await o.read("events", 0, 10_000);
            expect(events[0]).toMatchObject({ type: "ignition", seq: 0 });
            const gaps = gapsOf(events);
            const thinned = thinnedOf(events);
            expect(gaps.length).toBeGreaterThan(0);
            for (const g of gaps) expect(g).toMatchObject({ channel: "telemetry", reason: "outbox-full" });
            // The first drop came after thinning had reached the newest (open) window, not before.
            expect(gaps[0]!.seq).toBeGreaterThan(thinned[0]!.seq);
            expect(gaps[0]!.fromSeq).toBe(0);
            const sum = account(kept, thinned, gaps, total);
            expect(sum.kept + sum.thinned + sum.dropped).toBe(total);
            const stats = o.stats().channels;
            expect(stats.telemetry.bytes + stats.events.bytes).toBeLessThanOrEqual(64 * 1024);
          });
        } finally {
          await env.cleanup();
        }
      });

      it("never thins records the uplink has read, and after a restart keeps its sizes and thins no range twice", async () => {
        const env = await makeEnv();
        try {
          const lines: string[] = [];
          const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
          const before = await withOutbox(
            env,
            { ...thin, maxBytes: 64 * 1024 },
            async (o) => {
              await appendRange(o, 0, 200);
              // The uplink has 0..99 in flight; the latest lane only peeks at the newest.
              expect((await o.read("telemetry", 0, 100)).at(-1)?.seq).toBe(99);
              expect((await o.read("telemetry", 199, 1, { peek: true }))[0]?.seq).toBe(199);
              await appendRange(o, 200, 1000);
              const thinned = thinnedOf(await o.read("events", 0, 1000));
              expect(thinned.length).toBeGreaterThan(0);
              expect(thinned[0]!.fromSeq).toBe(100);
              const kept = (await o.read("telemetry", 0, 1000)).map((r) => r.seq);
              expect(kept.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i));
              return { bytes: o.stats().channels.telemetry.bytes, thinned, kept };
            },
            logger,
          );
          await withOutbox(
            env,
            { ...thin, maxBytes: 64 * 1024 },
            async (o) => {
              // Recovery finds the same records and sizes, and no hole below the watermark is a surprise.
              expect(o.stats().channels.telemetry.bytes).toBe(before.bytes);
              // A peek: a read would put all of them in flight, and nothing would be left to thin.
              expect((await o.read("telemetry", 0, 1000, { peek: true })).map((r) => r.seq)).toEqual(before.kept);
              const eventsFrom = o.committedNext("events");
              await appendRange(o, 1000, 1600);
              const more = thinnedOf(await o.read("events", eventsFrom, 1000));
              expect(more.length).toBeGreaterThan(0);
              expect(more[0]!.fromSeq).toBe(before.thinned.at(-1)!.toSeq + 1);
            },
            logger,
          );
          expect(lines.filter((l) => l.includes("hole in stored seqs"))).toEqual([]);
        } finally {
          await env.cleanup();
        }
      });
    });

    it("refuses appends beyond the write buffer with FLEET_OUTBOX_BUSY and counts them", async () => {
      const env = await makeEnv();
      try {
        await withOutbox(env, { maxPendingRecords: 5, commitMaxRecords: 100, commitIntervalMs: 60_000 }, async (o) => {
          const ok = Array.from({ length: 5 }, (_, i) => o.append("telemetry", body(i)));
          const refused = await o.append("telemetry", body(5)).catch((e: unknown) => e);
          expect(isFleetError(refused, "FLEET_OUTBOX_BUSY")).toBe(true);
          expect(o.stats().channels.telemetry.refused).toBe(1);
          await o.flush();
          expect(await Promise.all(ok)).toEqual([0, 1, 2, 3, 4]);
          // The refused record took no seq.
          const next = o.append("telemetry", body(6));
          await o.flush();
          expect(await next).toBe(5);
        });
      } finally {
        await env.cleanup();
      }
    });

    it("commits what is pending on stop, is idempotent, and refuses appends after", async () => {
      const env = await makeEnv();
      try {
        const o = createOutbox(OutboxConfigSchema.parse({ dir: "x", commitIntervalMs: 60_000 }), {
          truckId: TRUCK,
          store: env.open(),
        });
        await o.start();
        const appended = Array.from({ length: 7 }, (_, i) => o.append("telemetry", body(i)));
        await Promise.all([o.stop(), o.stop()]);
        expect(await Promise.all(appended)).toEqual([0, 1, 2, 3, 4, 5, 6]);
        const late = await o.append("telemetry", body(7)).catch((e: unknown) => e);
        expect(isFleetError(late, "FLEET_CLOSED")).toBe(true);
        await withOutbox(env, {}, async (again) => {
          expect((await again.read("telemetry", 0, 100)).length).toBe(7);
        });
      } finally {
        await env.cleanup();
      }
    });

    it("tells listeners when new records became readable", async () => {
      const env = await makeEnv();
      try {
        await withOutbox(env, {}, async (o) => {
          let calls = 0;
          const off = o.onCommit(() => calls++);
          await o.append("telemetry", body(0));
          expect(calls).toBe(1);
          off();
          await o.append("telemetry", body(1));
          expect(calls).toBe(1);
        });
      } finally {
        await env.cleanup();
      }
    });
  });
}
