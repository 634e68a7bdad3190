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
