/**
 * The verifier's bookkeeping, without I/O: records of one topic in consumption order in, a per-truck account out.
 * Raw checks (duplicates, records arriving after a higher seq, seqs never seen) are counted here; which records a
 * consumer keeps is decided by protocol/'s in-order filter, passed in, so `verify` judges exactly what a backend
 * using that filter would see. Memory per stream: a counter for the gapless prefix plus the seqs seen ahead of it
 * (few, unless records are badly out of order), so a million records cost little.
 */
export interface SeqRecord {
  truckId: string;
  stream: string;
  seq: number;
  partition: number;
}

/** An announced loss: an outbox-overflow gap event from fleet.events. */
export interface AnnouncedGap {
  truckId: string;
  stream: string;
  fromSeq: number;
  toSeq: number;
}

/** A range the truck's outbox thinned (a `thinned` event): `count` of its seqs were removed on purpose. */
export interface ThinnedRange extends AnnouncedGap {
  count: number;
}

/** The consumer's filter as verify uses it: true = the consumer keeps the record. */
export interface KeepFilter {
  keep(record: SeqRecord): boolean;
}

export interface StreamReport {
  stream: string;
  unique: number;
  maxSeq: number;
  /** Seqs below maxSeq never seen, as [from, to] ranges (at most MAX_RANGES listed). */
  missingRanges: [number, number][];
}

export interface TruckReport {
  expected: number | null;
  received: number;
  unique: number;
  kept: number;
  duplicates: number;
  /** Records first seen after a higher seq of the same stream: a consumer's filter drops them. */
  reordered: number;
  /** Kept records not strictly above the previous kept one of their stream (a filter bug if ever non-zero). */
  reorderedAfterFilter: number;
  /** Records dropped by the truck's outbox and announced by a gap event. */
  lostAnnounced: number;
  /** Records thinned by the truck's outbox and announced by a thinned event: announced, never counted as lost. */
  thinned: number;
  lostUnexplained: number;
  /** Unique records beyond the expected count. */
  extra: number;
  /**
   * Every seq the truck produced is kept (received), thinned or dropped, or else unexplained: produced is the
   * expected count when given, else the seqs up to the highest one seen or announced.
   */
  accounting: { produced: number; kept: number; thinned: number; dropped: number; unexplained: number };
  partitions: number[];
  streams: StreamReport[];
}

export interface CheckerSummary {
  ok: boolean;
  failures: string[];
  totals: {
    trucks: number;
    received: number;
    unique: number;
    kept: number;
    duplicates: number;
    reordered: number;
    lostAnnounced: number;
    thinned: number;
    lostUnexplained: number;
    extra: number;
    invalid: number;
  };
  trucks: Record<string, TruckReport>;
}

const MAX_RANGES = 20;

interface StreamState {
  next: number;
  ahead: Set<number>;
  maxSeq: number;
  unique: number;
  lastKept: number;
}

interface TruckState {
  received: number;
  kept: number;
  duplicates: number;
  reordered: number;
  reorderedAfterFilter: number;
  partitions: Set<number>;
  streams: Map<string, StreamState>;
}

export interface Checker {
  add(record: SeqRecord): void;
  addInvalid(reason: string): void;
  addGap(gap: AnnouncedGap): void;
  addThinned(range: ThinnedRange): void;
  /** True once every expected truck has its expected count of records, kept or announced lost. */
  satisfied(): boolean;
  summary(): CheckerSummary;
}

function holes(s: StreamState): [number, number][] {
  const ranges: [number, number][] = [];
  const ahead = [...s.ahead].sort((a, b) => a - b);
  let from = s.next;
  for (const seq of ahead) {
    if (seq > from) ranges.push([from, seq - 1]);
    from = seq + 1;
  }
  return ranges;
}

const overlap = (a: [number, number], b: [number, number]) =>
  Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]) + 1);

/** The parts of `range` that none of `cuts` covers. */
function subtract(range: [number, number], cuts: [number, number][]): [number, number][] {
  let pieces: [number, number][] = [range];
  for (const c of cuts) {
    const next: [number, number][] = [];
    for (const p of pieces) {
      if (c[1] < p[0] || c[0] > p[1]) next.push(p);
      else {
        if (c[0] > p[0]) next.push([p[0], c[0] - 1]);
        if (c[1] < p[1]) next.push([c[1] + 1, p[1]]);
      }
    }
    pieces = next;
  }
  return pieces;
}

/** Seqs of `range` inside any of `ranges` (each counted once, however the ranges overlap). */
function covered(range: [number, number], ranges: [number, number][]): number {
  const size = range[1] - range[0] + 1;
  return size - subtract(range, ranges).reduce((n, p) => n + p[1] - p[0] + 1, 0);
}

export function createChecker(options: {
  expect?: number | Readonly<Record<string, number>>;
  filter: KeepFilter;
}): Checker {
  const trucks = new Map<string, TruckState>();
  const gaps = new Map<string, AnnouncedGap>();
  const thinnedRanges = new Map<string, ThinnedRange>();
  const invalid = new Map<string, number>();
  const expectFor = (truckId: string): number | null => {
    if (options.expect === undefined) return null;
    if (typeof options.expect === "number") return options.expect;
    return options.expect[truckId] ?? null;
  };
  const expectedIds = () =>
    options.expect === undefined || typeof options.expect === "number"
      ? [...trucks.keys()]
      : [...new Set([...Object.keys(options.expect), ...trucks.keys()])];

  function truck(id: string): TruckState {
    let t = trucks.get(id);
    if (!t) {
      t = {
        received: 0,
        kept: 0,
        duplicates: 0,
        reordered: 0,
        reorderedAfterFilter: 0,
        partitions: new Set(),
        streams: new Map(),
      };
      trucks.set(id, t);
    }
    return t;
  }

  function gapsOf(truckId: string, stream: string): [number, number][] {
    const out: [number, number][] = [];
    for (const g of gaps.values()) if (g.truckId === truckId && g.stream === stream) out.push([g.fromSeq, g.toSeq]);
    return out;
  }

  function thinnedOf(truckId: string, stream: string): ThinnedRange[] {
    return [...thinnedRanges.values()].filter((t) => t.truckId === truckId && t.stream === stream);
  }

  /** A thinned range no gap touched: exactly its count of seqs must be missing, or the announcement is wrong. */
  const thinMismatches: string[] = [];

  function report(id: string): TruckReport {
    const t = trucks.get(id);
    const expected = expectFor(id);
    const streams: StreamReport[] = [];
    let unique = 0;
    let lostAnnounced = 0;
    let thinned = 0;
    let lostUnexplained = 0;
    for (const [stream, s] of t?.streams ?? []) {
      unique += s.unique;
      const missing = holes(s);
      const announced = gapsOf(id, stream);
      const thinRanges = thinnedOf(id, stream);
      const thinSpans = thinRanges.map((r): [number, number] => [r.fromSeq, r.toSeq]);
      // Each missing seq once: dropped when a gap covers it (a gap may take records thinned before), else thinned
      // when a thinned range covers it, else unexplained.
      for (const range of missing) {
        const size = range[1] - range[0] + 1;
        const dropped = covered(range, announced);
        const thinnedHere = subtract(range, announced).reduce((n, p) => n + covered(p, thinSpans), 0);
        lostAnnounced += dropped;
        thinned += thinnedHere;
        lostUnexplained += size - dropped - thinnedHere;
      }
      // Announced drops above the highest seq seen (the newest records were dropped): also losses, announced.
      for (const a of announced) if (a[1] > s.maxSeq) lostAnnounced += a[1] - Math.max(a[0], s.maxSeq + 1) + 1;
      for (const r of thinRanges) {
        const span: [number, number] = [r.fromSeq, r.toSeq];
        if (r.toSeq > s.maxSeq || announced.some((a) => overlap(span, a) > 0)) continue;
        const holesIn = missing.reduce((n, m) => n + overlap(m, span), 0);
        if (holesIn !== r.count) {
          thinMismatches.push(`${id}: thinned ${r.fromSeq}..${r.toSeq} announces ${r.count}, ${holesIn} missing`);
        }
      }
      streams.push({ stream, unique: s.unique, maxSeq: s.maxSeq, missingRanges: missing.slice(0, MAX_RANGES) });
    }
    // Announced gaps of streams of which no record arrived at all.
    for (const g of gaps.values()) {
      if (g.truckId === id && !t?.streams.has(g.stream)) lostAnnounced += g.toSeq - g.fromSeq + 1;
    }
    let extra = 0;
    if (expected !== null) {
      const accounted = unique + lostAnnounced + thinned + lostUnexplained;
      if (accounted < expected) lostUnexplained += expected - accounted;
      extra = Math.max(0, unique + lostAnnounced + thinned - expected);
    }
    const produced = expected ?? unique + lostAnnounced + thinned + lostUnexplained;
    return {
      expected,
      received: t?.received ?? 0,
      unique,
      kept: t?.kept ?? 0,
      duplicates: t?.duplicates ?? 0,
      reordered: t?.reordered ?? 0,
      reorderedAfterFilter: t?.reorderedAfterFilter ?? 0,
      lostAnnounced,
      thinned,
      lostUnexplained,
      extra,
      accounting: { produced, kept: unique, thinned, dropped: lostAnnounced, unexplained: lostUnexplained },
      partitions: [...(t?.partitions ?? [])].sort((a, b) => a - b),
      streams,
    };
  }

  return {
    add(record) {
      const t = truck(record.truckId);
      t.received++;
      t.partitions.add(record.partition);
      let s = t.streams.get(record.stream);
      if (!s) {
        s = { next: 0, ahead: new Set(), maxSeq: -1, unique: 0, lastKept: -1 };
        t.streams.set(record.stream, s);
      }
      const seen = record.seq < s.next || s.ahead.has(record.seq);
      if (seen) t.duplicates++;
      else {
        if (record.seq < s.maxSeq) t.reordered++;
        s.unique++;
        s.ahead.add(record.seq);
        while (s.ahead.delete(s.next)) s.next++;
        s.maxSeq = Math.max(s.maxSeq, record.seq);
      }
      if (options.filter.keep(record)) {
        t.kept++;
        if (record.seq <= s.lastKept) t.reorderedAfterFilter++;
        s.lastKept = record.seq;
      }
    },
    addInvalid(reason) {
      invalid.set(reason, (invalid.get(reason) ?? 0) + 1);
    },
    addGap(gap) {
      gaps.set(`${gap.truckId}/${gap.stream}/${gap.fromSeq}/${gap.toSeq}`, gap);
    },
    addThinned(range) {
      thinnedRanges.set(`${range.truckId}/${range.stream}/${range.fromSeq}/${range.toSeq}`, range);
    },
    satisfied() {
      // With one count for "every truck seen", nothing seen yet must not count as done.
      if (options.expect === undefined || trucks.size === 0) return false;
      return expectedIds().every((id) => {
        const expected = expectFor(id);
        if (expected === null) return true;
        const r = report(id);
        return r.unique + r.lostAnnounced + r.thinned >= expected;
      });
    },
    summary() {
      const reports: Record<string, TruckReport> = {};
      thinMismatches.length = 0;
      for (const id of expectedIds().sort()) reports[id] = report(id);
      const all = Object.values(reports);
      const sum = (f: (r: TruckReport) => number) => all.reduce((n, r) => n + f(r), 0);
      const failures: string[] = [];
      for (const [id, r] of Object.entries(reports)) {
        if (r.lostUnexplained > 0) failures.push(`${id}: ${r.lostUnexplained} records lost without an announcement`);
        if (r.reordered > 0) failures.push(`${id}: ${r.reordered} records arrived after a higher seq (reordered)`);
        if (r.reorderedAfterFilter > 0) failures.push(`${id}: ${r.reorderedAfterFilter} out of order after the filter`);
        if (r.partitions.length > 1) failures.push(`${id}: records on ${r.partitions.length} partitions`);
        if (options.expect !== undefined && r.expected === null) failures.push(`${id}: truck not expected`);
        const a = r.accounting;
        // Extra records (more than expected) are reported, not failed: they are the only excess allowed.
        if (r.expected !== null && a.kept + a.thinned + a.dropped + a.unexplained !== a.produced + r.extra) {
          failures.push(
            `${id}: kept ${a.kept} + thinned ${a.thinned} + dropped ${a.dropped} + unexplained ${a.unexplained} != produced ${a.produced}`,
          );
        }
      }
      failures.push(...thinMismatches);
      const invalidCount = [...invalid.values()].reduce((a, b) => a + b, 0);
      for (const [reason, n] of invalid) failures.push(`${n} invalid records: ${reason}`);
      return {
        ok: failures.length === 0,
        failures,
        totals: {
          trucks: all.length,
          received: sum((r) => r.received),
          unique: sum((r) => r.unique),
          kept: sum((r) => r.kept),
          duplicates: sum((r) => r.duplicates),
          reordered: sum((r) => r.reordered),
          lostAnnounced: sum((r) => r.lostAnnounced),
          thinned: sum((r) => r.thinned),
          lostUnexplained: sum((r) => r.lostUnexplained),
          extra: sum((r) => r.extra),
          invalid: invalidCount,
        },
        trucks: reports,
      };
    },
  };
}
