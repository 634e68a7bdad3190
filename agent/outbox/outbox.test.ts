import { describe, expect, it } from "vitest";
import { OutboxConfigSchema } from "./config.ts";
import { outboxContract } from "./outbox.contract.ts";
import { createOutbox } from "./outbox.ts";
import { SizeQueue } from "./size-queue.ts";
import { createMemoryStore } from "./store.ts";

outboxContract("memory store", async () => {
  const data = new Map<string, string>();
  return { open: () => createMemoryStore(data), cleanup: async () => {} };
});

describe("outbox crash recovery (memory store)", () => {
  it("loses only what was never committed, and does not reuse a committed seq", async () => {
    const data = new Map<string, string>();
    const config = OutboxConfigSchema.parse({ dir: "x", commitIntervalMs: 60_000 });
    let crashed = false;
    const aStore = createMemoryStore(data);
    const a = createOutbox(config, {
      truckId: "T1",
      store: {
        ...aStore,
        batch: (ops) => (crashed ? Promise.reject(new Error("power lost")) : aStore.batch(ops)),
      },
    });
    await a.start();
    const appended = Promise.all(
      [0, 1, 2].map(() =>
        a.append("telemetry", { ts: "2026-01-01T00:00:00.000Z", timeSource: "system" }).catch(() => -1),
      ),
    );
    await a.flush();
    const committed = await appended;
    const never = a.append("telemetry", { ts: "2026-01-01T00:00:01.000Z", timeSource: "system" }).catch(() => -1);
    // "crash": a second outbox opens the same data without the first one stopping
    const b = createOutbox(config, { truckId: "T1", store: createMemoryStore(data) });
    await b.start();
    expect(committed).toEqual([0, 1, 2]);
    expect((await b.read("telemetry", 0, 10)).map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(b.stream).toBe(a.stream);
    const next = b.append("telemetry", { ts: "2026-01-01T00:00:02.000Z", timeSource: "system" });
    await b.flush();
    expect(await next).toBe(3);
    await b.stop();
    crashed = true;
    await a.stop(); // its disk is "gone": the pending record is refused, not written
    expect(await never).toBe(-1);
    expect((await createMemoryStore(data).list({ gte: "t:", lt: "t;", limit: 10 })).length).toBe(4);
  });
});

describe("SizeQueue", () => {
  it("keeps sizes in FIFO order across chunks and counts the bytes it frees", () => {
    const q = new SizeQueue();
    for (let i = 0; i < 20_000; i++) q.push(i % 300);
    let expected = 0;
    for (let i = 0; i < 20_000; i++) expected += i % 300;
    expect(q.bytes).toBe(expected);
    expect(q.countBytes(10)).toBe(45);
    expect(q.countFor(45)).toBe(10);
    expect(q.shift(9000)).toBe(Array.from({ length: 9000 }, (_, i) => i % 300).reduce((a, b) => a + b, 0));
    expect(q.length).toBe(11_000);
    expect(q.countBytes(2)).toBe((9000 % 300) + (9001 % 300));
    q.shift(1_000_000);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
    q.push(7);
    expect(q.countBytes(1)).toBe(7);
  });
});

describe("SizeQueue.set (thinning keeps places, at zero bytes)", () => {
  it("changes one entry in the middle, across chunks and after shifts, and keeps the byte total", () => {
    const q = new SizeQueue();
    for (let i = 0; i < 20_000; i++) q.push(100);
    q.shift(5_000);
    expect(q.set(10_000, 0)).toBe(100); // entry 15,000 as pushed, in the second chunk
    expect(q.bytes).toBe(15_000 * 100 - 100);
    expect(q.countBytes(10_001)).toBe(10_000 * 100);
    expect(q.countFor(10_000 * 100 + 1)).toBe(10_002); // the zero entry counts as a place
    expect(() => q.set(15_000, 0)).toThrow(RangeError);
  });
});

describe("outbox recovery and the seq mark (memory store)", () => {
  const body = { ts: "2026-01-01T00:00:00.000Z", timeSource: "system" as const };
  async function crashAfter(data: Map<string, string>, sync: boolean, bootId: string, count: number) {
    const a = createOutbox(OutboxConfigSchema.parse({ dir: "x", commitIntervalMs: 5, sync }), {
      truckId: "T1",
      store: createMemoryStore(data),
      bootId,
    });
    await a.start();
    for (let i = 0; i < count; i++) await a.append("telemetry", body);
    return a; // never stopped: a crash
  }
  async function reopen(data: Map<string, string>, sync: boolean, bootId: string, lost = false) {
    const b = createOutbox(OutboxConfigSchema.parse({ dir: "x", commitIntervalMs: 5, sync }), {
      truckId: "T1",
      store: createMemoryStore(data, { recoveryLost: () => lost }),
      bootId,
    });
    await b.start();
    const eventsFrom = b.committedNext("events"); // what this start announces comes after
    const next = await b.append("telemetry", body);
    await b.flush();
    const gaps = (await b.read("events", eventsFrom, 100)).filter((e) => e.type === "gap");
    await b.stop();
    return { next, gaps };
  }

  it("continues at the recovered seq after a crash it can prove harmless (synced writes, same boot)", async () => {
    const data = new Map<string, string>();
    await crashAfter(data, true, "boot-1", 10);
    expect(await reopen(data, true, "boot-1")).toEqual({ next: 10, gaps: [] });
  });

  it("jumps to the mark and announces the seqs in between when the store reports lost data", async () => {
    const data = new Map<string, string>();
    await crashAfter(data, true, "boot-1", 10);
    const { next, gaps } = await reopen(data, true, "boot-1", true);
    expect(next).toBeGreaterThan(10);
    // Each channel has its own mark: the events channel's reserved block is announced as well.
    expect(gaps).toMatchObject([
      { channel: "telemetry", reason: "recovery", fromSeq: 10, toSeq: next - 1 },
      { channel: "events", reason: "recovery", fromSeq: 0 },
    ]);
  });

  it("jumps to the mark after an unclean stop without sync across a reboot, but not after a clean stop", async () => {
    const data = new Map<string, string>();
    await crashAfter(data, false, "boot-1", 10);
    const afterReboot = await reopen(data, false, "boot-2");
    expect(afterReboot.gaps.map((g) => g.type === "gap" && [g.channel, g.reason])).toEqual([
      ["telemetry", "recovery"],
      ["events", "recovery"],
    ]);
    // reopen() stopped cleanly: the mark is exact, so the next start continues where it left off.
    const clean = await reopen(data, false, "boot-3");
    expect(clean).toEqual({ next: afterReboot.next + 1, gaps: [] });
  });
});
