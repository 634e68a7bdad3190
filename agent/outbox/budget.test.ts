import { describe, expect, it } from "vitest";
import { type BudgetInput, planDrops } from "./budget.ts";
import { SizeQueue } from "./size-queue.ts";

function queue(count: number, size: number): SizeQueue {
  const q = new SizeQueue();
  for (let i = 0; i < count; i++) q.push(size);
  return q;
}

/** Ten 100-byte telemetry records and five 100-byte events stored; nothing acknowledged; a plenty-free disk. */
function input(overrides: Partial<BudgetInput> = {}): BudgetInput {
  const telemetry = queue(10, 100);
  const events = queue(5, 100);
  return {
    maxBytes: 2_000,
    diskReserveBytes: 1_000,
    dropToFraction: 0.5,
    freeBytes: Number.POSITIVE_INFINITY,
    bytesNow: 1_500,
    bytesAfter: 1_500,
    channels: { telemetry: { sizes: telemetry, ackCount: 0 }, events: { sizes: events, ackCount: 0 } },
    ...overrides,
  };
}

describe("outbox budget: drop the oldest", () => {
  it("drops nothing within the budget", () => {
    expect(planDrops(input())).toEqual({
      limit: 2_000,
      reason: "outbox-full",
      drops: { telemetry: 0, events: 0 },
      shortBy: 0,
    });
  });

  it("over maxBytes: drops the oldest telemetry down to dropToFraction of the budget, and no events with it", () => {
    // 2,100 bytes after the commit, budget 2,000, down to 1,000: 1,100 bytes = 11 records; telemetry has 10, but the
    // events that would make up the rest wait for the next commit (one gap event per commit).
    const plan = planDrops(input({ bytesAfter: 2_100 }));
    expect(plan).toEqual({ limit: 2_000, reason: "outbox-full", drops: { telemetry: 10, events: 0 }, shortBy: 0 });
  });

  it("counts records already acknowledged in this commit as gone, not as drops", () => {
    const base = input({ bytesAfter: 1_300 + 700, maxBytes: 1_800 });
    base.channels.telemetry.ackCount = 2;
    // 2,000 after, budget 1,800, down to 900: 1,100 bytes to free; the two acknowledged records are already gone
    // from the 2,000, so the drops are the eight other telemetry records (the rest waits for the next commit).
    const plan = planDrops(base);
    expect(plan.drops).toEqual({ telemetry: 8, events: 0 });
    expect(plan.reason).toBe("outbox-full");
  });

  it("takes events only when no telemetry is left to drop", () => {
    const base = input({ bytesAfter: 2_100 });
    base.channels.telemetry = { sizes: new SizeQueue(), ackCount: 0 };
    const plan = planDrops(base);
    expect(plan.drops).toEqual({ telemetry: 0, events: 5 });
    expect(plan.shortBy).toBe(600); // 1,100 to free, 500 bytes of events: the commit alone is over the budget
  });

  it("when the disk has less room than maxBytes, the disk is the budget and the reason is disk-full", () => {
    // 1,500 stored + 1,200 free - 1,000 reserve = 1,700 < 2,000.
    const plan = planDrops(input({ freeBytes: 1_200, bytesAfter: 1_800 }));
    expect(plan.limit).toBe(1_700);
    expect(plan.reason).toBe("disk-full");
    expect(plan.drops).toEqual({ telemetry: 10, events: 0 }); // down to 850: 950 bytes, rounded up to whole records
  });
});
