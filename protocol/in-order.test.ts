import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createInOrderFilter, type SeqGap, type SequencedRecord } from "./in-order.ts";
import { FIRST_SEQ } from "./records.ts";

const S1 = "1111111111111111";
const S2 = "2222222222222222";
const S3 = "3333333333333333";
const rec = (truckId: string, stream: string, seq: number): SequencedRecord => ({ truckId, stream, seq });

describe("in-order filter", () => {
  it("keeps rising seqs, drops duplicates and reports a gap once", () => {
    const filter = createInOrderFilter();
    expect(filter.accept(rec("A", S1, 5))).toEqual({ keep: true });
    expect(filter.accept(rec("A", S1, 6))).toEqual({ keep: true });
    expect(filter.accept(rec("A", S1, 6))).toEqual({ keep: false, reason: "duplicate", lastSeq: 6 });
    expect(filter.accept(rec("A", S1, 4))).toEqual({ keep: false, reason: "duplicate", lastSeq: 6 });
    expect(filter.accept(rec("A", S1, 10))).toEqual({ keep: true, gap: { fromSeq: 7, toSeq: 9, count: 3 } });
    expect(filter.stats()).toMatchObject({ kept: 3, duplicates: 2, gaps: 1, missing: 3, trucks: 1 });
  });

  it("switches to a new stream, reports its missing head, and drops late records of the replaced stream", () => {
    const filter = createInOrderFilter();
    filter.accept(rec("A", S1, 100));
    expect(filter.accept(rec("A", S2, FIRST_SEQ))).toEqual({
      keep: true,
      streamChanged: { previousStream: S1, previousLastSeq: 100 },
    });
    expect(filter.accept(rec("A", S1, 101))).toEqual({ keep: false, reason: "stale-stream", lastSeq: FIRST_SEQ });
    expect(filter.accept(rec("A", S3, 3))).toEqual({
      keep: true,
      gap: { fromSeq: FIRST_SEQ, toSeq: 2, count: 3 },
      streamChanged: { previousStream: S2, previousLastSeq: FIRST_SEQ },
    });
    expect(filter.stats()).toMatchObject({ streamChanges: 2, staleStream: 1 });
  });

  it("a record inside a gap it reported is late, not a duplicate: reported once and taken off `missing`", () => {
    const filter = createInOrderFilter();
    filter.accept(rec("A", S1, 10));
    expect(filter.accept(rec("A", S1, 13))).toEqual({ keep: true, gap: { fromSeq: 11, toSeq: 12, count: 2 } });
    expect(filter.accept(rec("A", S1, 11))).toEqual({ keep: false, reason: "late", lastSeq: 13 });
    expect(filter.accept(rec("A", S1, 11))).toEqual({ keep: false, reason: "duplicate", lastSeq: 13 });
    expect(filter.stats()).toMatchObject({ kept: 2, gaps: 1, missing: 1, late: 1, duplicates: 1 });
    // Survives a snapshot: 12 is still known missing.
    const again = createInOrderFilter();
    again.restore(filter.snapshot());
    expect(again.accept(rec("A", S1, 12))).toEqual({ keep: false, reason: "late", lastSeq: 13 });
  });

  it("a stream switching back (b1 -> b2 -> b1): b2 stays current, each later b1 record is stale-stream", () => {
    const filter = createInOrderFilter();
    filter.accept(rec("A", S1, 5));
    filter.accept(rec("A", S2, 0));
    for (const seq of [6, 7]) {
      expect(filter.accept(rec("A", S1, seq))).toEqual({ keep: false, reason: "stale-stream", lastSeq: 0 });
    }
    expect(filter.accept(rec("A", S2, 1))).toEqual({ keep: true });
    expect(filter.stats()).toMatchObject({ kept: 3, staleStream: 2, gaps: 0, missing: 0 });
  });

  it("keeps trucks apart", () => {
    const filter = createInOrderFilter();
    expect(filter.accept(rec("A", S1, 1)).keep).toBe(true);
    expect(filter.accept(rec("B", S1, 1)).keep).toBe(true);
    expect(filter.accept(rec("A", S1, 1)).keep).toBe(false);
  });

  it("forgets the least recently seen truck when maxTrucks is reached", () => {
    const filter = createInOrderFilter({ maxTrucks: 2 });
    filter.accept(rec("A", S1, 1));
    filter.accept(rec("B", S1, 1));
    filter.accept(rec("A", S1, 2)); // A is now the most recently seen
    filter.accept(rec("C", S1, 1)); // evicts B
    expect(filter.stats()).toMatchObject({ trucks: 2, evicted: 1 });
    expect(filter.accept(rec("A", S1, 2)).keep).toBe(false);
    expect(filter.accept(rec("B", S1, 1)).keep).toBe(true); // forgotten: counts as a first record
  });

  it("continues from a snapshot after a restart", () => {
    const before = createInOrderFilter();
    before.accept(rec("A", S1, 7));
    before.accept(rec("A", S2, 0));
    const after = createInOrderFilter();
    after.restore(JSON.parse(JSON.stringify(before.snapshot())));
    expect(after.accept(rec("A", S2, 0)).keep).toBe(false);
    expect(after.accept(rec("A", S1, 8))).toMatchObject({ keep: false, reason: "stale-stream" });
    expect(after.accept(rec("A", S2, 1))).toEqual({ keep: true });
  });

  it("snapshots only the trucks asked for, without changing which truck is forgotten first", () => {
    const filter = createInOrderFilter({ maxTrucks: 2 });
    filter.accept(rec("A", S1, 0));
    filter.accept(rec("B", S1, 0));
    const some = filter.snapshot(["A", "unknown"]);
    expect(Object.keys(some)).toEqual(["A"]);
    expect(some.A).toEqual(filter.snapshot().A);
    // Reading A for storage is not seeing A: A is still the least recently seen, so a third truck evicts it.
    filter.accept(rec("C", S1, 0));
    expect(Object.keys(filter.snapshot()).sort()).toEqual(["B", "C"]);
    // A copy: the filter's own position moves on, the snapshot does not.
    const b = filter.snapshot(["B"]).B!;
    const stored = JSON.stringify(b);
    filter.accept(rec("B", S1, 1));
    expect(JSON.stringify(b)).toBe(stored);
    expect(filter.snapshot(["B"]).B).not.toEqual(b);
  });

  it("refuses nonsense options", () => {
    expect(() => createInOrderFilter({ maxTrucks: 0 })).toThrow(/maxTrucks/);
    expect(() => createInOrderFilter({ retiredStreamsPerTruck: -1 })).toThrow(/retired/);
    expect(() => createInOrderFilter({ gapsPerTruck: -1 })).toThrow(/gapsPerTruck/);
    // A typed configuration error, not a RangeError (issue 14.2).
    expect(() => createInOrderFilter({ maxTrucks: 0 })).toThrow(
      expect.objectContaining({ code: "FLEET_CONFIG_INVALID" }),
    );
  });
});

/**
 * A truck's true history: streams one after another, each with rising seqs, some lost to outbox overflow. What
 * reaches Kafka: every record, plus retries (a window of already sent records sent again, in order, as an agent
 * re-sends what it has no PUBACK for), with trucks interleaved at random on the partition.
 */
const streamHexArb = fc.stringMatching(/^[0-9a-f]{16}$/);
const segmentArb = fc.record({
  length: fc.integer({ min: 1, max: 25 }),
  start: fc.oneof(fc.constant(FIRST_SEQ), fc.integer({ min: 0, max: 1_000_000 })),
  steps: fc.array(fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 50 })), {
    minLength: 25,
    maxLength: 25,
  }),
  retries: fc.array(fc.option(fc.integer({ min: 0, max: 6 }), { freq: 3 }), { minLength: 25, maxLength: 25 }),
});
const truckHistoryArb = fc.array(segmentArb, { minLength: 1, maxLength: 3 });

describe("in-order filter with duplicated and retried input across interleaved trucks", () => {
  it("yields each truck's records once, in order, and exactly the gaps that were lost", () => {
    fc.assert(
      fc.property(
        fc.array(truckHistoryArb, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(streamHexArb, { minLength: 18, maxLength: 18 }),
        fc.array(fc.nat(), { minLength: 2000, maxLength: 2000 }),
        (histories, streams, schedule) => {
          const truth = new Map<string, SequencedRecord[]>();
          const expectedGaps = new Map<string, SeqGap[]>();
          const deliveries: SequencedRecord[][] = [];
          let streamIndex = 0;
          histories.forEach((segments, t) => {
            const truckId = `T${t}`;
            const records: SequencedRecord[] = [];
            const gaps: SeqGap[] = [];
            const delivered: SequencedRecord[] = [];
            for (const [k, segment] of segments.entries()) {
              const stream = streams[streamIndex++]!;
              // Later streams of a truck start at FIRST_SEQ unless their head was lost too.
              let seq = k === 0 ? segment.start : segment.start === FIRST_SEQ ? FIRST_SEQ : segment.start % 5;
              if (k > 0 && seq > FIRST_SEQ) gaps.push({ fromSeq: FIRST_SEQ, toSeq: seq - 1, count: seq });
              const segmentStart = records.length;
              for (let i = 0; i < segment.length; i++) {
                if (i > 0) {
                  const step = segment.steps[i]!;
                  if (step > 1) gaps.push({ fromSeq: seq + 1, toSeq: seq + step - 1, count: step - 1 });
                  seq += step;
                }
                const record = rec(truckId, stream, seq);
                records.push(record);
                delivered.push(record);
                const back = segment.retries[i];
                if (back !== null && back !== undefined) {
                  // Re-send the unacknowledged window: never older than this stream (the old outbox is gone).
                  const from = Math.max(segmentStart, records.length - 1 - back);
                  delivered.push(...records.slice(from));
                }
              }
            }
            truth.set(truckId, records);
            expectedGaps.set(truckId, gaps);
            deliveries.push(delivered);
          });

          // Interleave the trucks' deliveries on one partition, each truck's own order kept.
          const cursors = deliveries.map(() => 0);
          const partition: SequencedRecord[] = [];
          let turn = 0;
          while (partition.length < deliveries.reduce((n, d) => n + d.length, 0)) {
            const pending = deliveries.map((_d, i) => i).filter((i) => cursors[i]! < deliveries[i]!.length);
            const pick = pending[schedule[turn++ % schedule.length]! % pending.length]!;
            partition.push(deliveries[pick]![cursors[pick]!++]!);
          }

          const filter = createInOrderFilter();
          const kept = new Map<string, SequencedRecord[]>();
          const gaps = new Map<string, SeqGap[]>();
          for (const record of partition) {
            const verdict = filter.accept(record);
            if (!verdict.keep) continue;
            kept.set(record.truckId, [...(kept.get(record.truckId) ?? []), record]);
            if (verdict.gap) gaps.set(record.truckId, [...(gaps.get(record.truckId) ?? []), verdict.gap]);
          }
          for (const [truckId, records] of truth) {
            expect(kept.get(truckId)).toEqual(records);
            expect(gaps.get(truckId) ?? []).toEqual(expectedGaps.get(truckId));
          }
          const stats = filter.stats();
          const total = [...truth.values()].reduce((n, r) => n + r.length, 0);
          expect(stats.kept).toBe(total);
          expect(stats.duplicates + stats.staleStream).toBe(partition.length - total);
        },
      ),
      { numRuns: 300 },
    );
  });
});
