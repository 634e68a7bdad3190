import { describe, expect, it } from "vitest";
import { createInOrderFilter } from "../../protocol/index.ts";
import { createChecker } from "./checker.ts";

const S = "00000000000000aa";
const S2 = "00000000000000bb";

function check(seqs: number[], expect?: number | Record<string, number>, truckId = "t1") {
  const filter = createInOrderFilter();
  const c = createChecker({
    ...(expect === undefined ? {} : { expect }),
    filter: { keep: (r) => filter.accept(r).keep },
  });
  for (const seq of seqs) c.add({ truckId, stream: S, seq, partition: 0 });
  return c;
}

describe("verify checker", () => {
  it("passes a complete, ordered sequence", () => {
    const s = check([0, 1, 2, 3, 4], 5).summary();
    expect(s.ok).toBe(true);
    expect(s.trucks.t1).toMatchObject({ unique: 5, kept: 5, duplicates: 0, reordered: 0, lostUnexplained: 0 });
  });

  it("reports duplicates without failing", () => {
    const s = check([0, 1, 1, 2, 0, 3], 4).summary();
    expect(s.ok).toBe(true);
    expect(s.trucks.t1).toMatchObject({ received: 6, unique: 4, kept: 4, duplicates: 2 });
  });

  it("fails on reordering: the late record is one the filtering consumer never sees", () => {
    const s = check([0, 2, 1, 3], 4).summary();
    expect(s.ok).toBe(false);
    expect(s.trucks.t1).toMatchObject({ unique: 4, kept: 3, reordered: 1, lostUnexplained: 0 });
    expect(s.failures.join()).toMatch(/reordered/);
  });

  it("fails on a gap and names the missing range, also a missing head and tail", () => {
    const s = check([1, 2, 5, 6], 9).summary();
    expect(s.ok).toBe(false);
    expect(s.trucks.t1!.streams[0]!.missingRanges).toEqual([
      [0, 0],
      [3, 4],
    ]);
    expect(s.trucks.t1!.lostUnexplained).toBe(5); // 0, 3, 4 and the two never-sent tail records 7, 8
  });

  it("counts announced gaps apart from unexplained loss", () => {
    const c = check([0, 1, 5, 6]);
    c.addGap({ truckId: "t1", stream: S, fromSeq: 2, toSeq: 3 });
    c.addGap({ truckId: "t1", stream: S, fromSeq: 2, toSeq: 3 }); // the event itself duplicated in Kafka
    const r = c.summary().trucks.t1!;
    expect([r.lostAnnounced, r.lostUnexplained]).toEqual([2, 1]);
  });

  it("counts the holes of a thinned range as thinned, never lost, and a later gap over them as dropped", () => {
    // 0..9 thinned keeping 0, 5, 9 (7 removed); then 10..19 kept, 20..21 dropped by a gap, 22..23 kept.
    const kept = [0, 5, 9, ...Array.from({ length: 10 }, (_, i) => 10 + i), 22, 23];
    const c = check(kept, 24);
    c.addThinned({ truckId: "t1", stream: S, fromSeq: 0, toSeq: 9, count: 7 });
    c.addGap({ truckId: "t1", stream: S, fromSeq: 20, toSeq: 21 });
    const s = c.summary();
    expect(s.ok).toBe(true);
    expect(s.trucks.t1).toMatchObject({ thinned: 7, lostAnnounced: 2, lostUnexplained: 0, extra: 0 });
    expect(s.trucks.t1!.accounting).toEqual({ produced: 24, kept: 15, thinned: 7, dropped: 2, unexplained: 0 });
    expect(s.totals.thinned).toBe(7);

    // A gap that later took a thinned range (and what it kept): each missing seq counts once, as dropped.
    const d = check([9, 10], 11);
    d.addThinned({ truckId: "t1", stream: S, fromSeq: 0, toSeq: 8, count: 6 });
    d.addGap({ truckId: "t1", stream: S, fromSeq: 0, toSeq: 8 });
    expect(d.summary().trucks.t1!.accounting).toEqual({
      produced: 11,
      kept: 2,
      thinned: 0,
      dropped: 9,
      unexplained: 0,
    });
  });

  it("fails when a thinned range's holes differ from its announced count, or a hole is outside every range", () => {
    const c = check([0, 5, 9, 10, 12], 13);
    c.addThinned({ truckId: "t1", stream: S, fromSeq: 0, toSeq: 9, count: 6 }); // 7 are missing
    const s = c.summary();
    expect(s.ok).toBe(false);
    expect(s.failures.join("\n")).toMatch(/thinned 0\.\.9 announces 6, 7 missing/);
    expect(s.failures.join("\n")).toMatch(/1 records lost without an announcement/); // seq 11
  });

  it("is satisfied once every expected truck has its count, kept or announced", () => {
    const filter = createInOrderFilter();
    const c = createChecker({ expect: { a: 2, b: 3 }, filter: { keep: (r) => filter.accept(r).keep } });
    c.add({ truckId: "a", stream: S, seq: 0, partition: 0 });
    c.add({ truckId: "a", stream: S, seq: 1, partition: 0 });
    expect(c.satisfied()).toBe(false);
    c.add({ truckId: "b", stream: S, seq: 0, partition: 1 });
    c.addGap({ truckId: "b", stream: S, fromSeq: 1, toSeq: 2 });
    expect(c.satisfied()).toBe(true);
    expect(c.summary().ok).toBe(true);
  });

  it("fails for a truck that never appeared, an unexpected truck, split partitions and invalid records", () => {
    const filter = createInOrderFilter();
    const c = createChecker({ expect: { a: 1, ghost: 1 }, filter: { keep: (r) => filter.accept(r).keep } });
    c.add({ truckId: "a", stream: S, seq: 0, partition: 0 });
    c.add({ truckId: "stranger", stream: S, seq: 0, partition: 0 });
    c.add({ truckId: "stranger", stream: S, seq: 1, partition: 2 });
    c.addInvalid("value is not JSON");
    const s = c.summary();
    expect(s.ok).toBe(false);
    expect(s.trucks.ghost!.lostUnexplained).toBe(1);
    expect(s.failures.join("\n")).toMatch(/stranger: truck not expected/);
    expect(s.failures.join("\n")).toMatch(/stranger: records on 2 partitions/);
    expect(s.totals.invalid).toBe(1);
  });

  it("accounts for a truck whose outbox restarted with a new stream", () => {
    const filter = createInOrderFilter();
    const c = createChecker({ expect: 5, filter: { keep: (r) => filter.accept(r).keep } });
    for (const seq of [0, 1, 2]) c.add({ truckId: "t", stream: S, seq, partition: 0 });
    for (const seq of [0, 1]) c.add({ truckId: "t", stream: S2, seq, partition: 0 });
    const s = c.summary();
    expect(s.ok).toBe(true);
    expect(s.trucks.t).toMatchObject({ unique: 5, kept: 5 });
    expect(s.trucks.t!.streams.map((x) => x.stream)).toEqual([S, S2]);
  });
});
