/**
 * The consumer's in-order filter (design, promise 2). Kafka gives each truck's records in order on one partition,
 * but delivery is at least once: a truck that missed a PUBACK sends a record again, and the bridge writes it again.
 * This filter, fed the records of ONE topic (fleet.telemetry or fleet.events: each channel has its own seq) in
 * partition order, keeps per truck only records whose (stream, seq) is above the last kept one, so every record is
 * seen once, in order, and it reports what it drops and what is missing:
 *
 * - same stream, seq above the last kept: kept; when seq skips ahead the skipped range is reported as a gap. A gap
 *   is real loss (the truck's outbox overflowed and dropped its oldest records; a `gap` event on fleet.events
 *   names the same range), never reordering, because the bridge keeps a truck's order through retries.
 * - same stream, seq at or below the last kept: dropped as a duplicate, or as `late` when the seq lies in a gap this
 *   filter reported for the truck's current stream (the last `gapsPerTruck` gaps are remembered). A late record
 *   was not lost after all: it arrived after later ones (written by something that does not keep the bridge's
 *   order, e.g. a replay tool or another producer). It is still dropped, because order cannot be restored, but it
 *   is reported and taken off the gap's count, so `missing` stays exact.
 * - a stream id not seen before for this truck: the truck's outbox was created afresh (new SD card, reinstall),
 *   so its seq restarted at FIRST_SEQ. The new stream becomes current and the record is kept. Stream ids are
 *   random, so they cannot be ordered: "new" means "not one of this truck's recently replaced streams". If the new
 *   stream does not start at FIRST_SEQ, its missing head is reported as a gap.
 * - one of the truck's recently replaced streams (kept per truck, up to `retiredStreamsPerTruck`): dropped as
 *   `stale-stream`, every record of it. With one gateway per truck id this can only be a late duplicate (a
 *   replaced outbox has no records left to send). A stream that switches back and goes on (b1 -> b2 -> b1 with new
 *   seqs) means two gateways publish as one truck id, or an old outbox came back (a restored SD card): the filter
 *   cannot order two live streams, keeps the one it switched to and drops the other's records as stale-stream.
 *   Consumers must report these (the example consumer does, per record): the fix is on the trucks, not here.
 *
 * The first record the filter sees of a truck is kept without a gap report: the consumer may have started mid-way.
 * State lives in memory, bounded by `maxTrucks` (when full, the truck seen longest ago is forgotten; its next record
 * counts as a first one). To dedupe across consumer restarts, store `snapshot()` beside your output, atomically
 * with it, and pass it back to `restore()`.
 */
import { LruMap } from "../common/lru.ts";
import { FIRST_SEQ } from "./records.ts";
import { FleetError } from "../common/errors.ts";

export interface SequencedRecord {
  truckId: string;
  stream: string;
  seq: number;
}

export interface SeqGap {
  fromSeq: number;
  toSeq: number;
  count: number;
}

export type InOrderVerdict =
  | {
      keep: true;
      /** Records missing just before this one (real loss), if any. */
      gap?: SeqGap;
      /** Set when this record started a new stream for its truck (previous stream and the last seq kept in it). */
      streamChanged?: { previousStream: string; previousLastSeq: number };
    }
  | {
      keep: false;
      reason: "duplicate" | "late" | "stale-stream";
      /** The last seq kept in the record's stream (the current stream for duplicates). */
      lastSeq: number;
    };

export interface InOrderStats {
  kept: number;
  duplicates: number;
  staleStream: number;
  /** Records that arrived inside a gap reported earlier (dropped; taken off `missing`). */
  late: number;
  gaps: number;
  /** Sum of the counts of all gaps reported. */
  missing: number;
  streamChanges: number;
  /** Trucks forgotten because maxTrucks was reached. */
  evicted: number;
  trucks: number;
}

export interface TruckPosition {
  stream: string;
  seq: number;
  retired: string[];
  /** The last gaps reported in `stream`, [fromSeq, toSeq], to recognise late records (absent: none). */
  gaps?: [number, number][];
}

export interface InOrderFilterOptions {
  /** Trucks tracked at once; when full, the least recently seen truck is forgotten. Default 100000. */
  maxTrucks?: number;
  /** Replaced streams remembered per truck to recognise stale duplicates. Default 4. */
  retiredStreamsPerTruck?: number;
  /** Reported gaps remembered per truck to recognise late records. Default 4. */
  gapsPerTruck?: number;
}

export interface InOrderFilter {
  /** Decides about one record; call in partition order. */
  accept(record: SequencedRecord): InOrderVerdict;
  stats(): InOrderStats;
  /**
   * Per-truck positions, to persist atomically with the consumer's output. With `only`: just those trucks (the ones
   * a batch touched, for a consumer that stores state per truck; a copy of every truck per batch was the detect
   * pipeline's largest cost per batch, and for a small live batch cost far more than its records).
   */
  snapshot(only?: Iterable<string>): Record<string, TruckPosition>;
  /** Replaces the state with a snapshot (e.g. after a restart or a partition reassignment). */
  restore(snapshot: Record<string, TruckPosition>): void;
}

/** The verdict for the common case, shared: a record kept without a gap allocates no verdict. */
const KEEP: InOrderVerdict = Object.freeze({ keep: true });

function copyPosition(p: TruckPosition): TruckPosition {
  return {
    ...p,
    retired: [...p.retired],
    ...(p.gaps ? { gaps: p.gaps.map(([a, b]) => [a, b] as [number, number]) } : {}),
  };
}

/** A bad option is a configuration error like any other (FLEET_CONFIG_INVALID naming the option), not a RangeError. */
function optionError(message: string): FleetError {
  return new FleetError("FLEET_CONFIG_INVALID", `in-order filter option ${message}`);
}

export function createInOrderFilter(options: InOrderFilterOptions = {}): InOrderFilter {
  const maxTrucks = options.maxTrucks ?? 100_000;
  const retiredMax = options.retiredStreamsPerTruck ?? 4;
  if (!Number.isInteger(maxTrucks) || maxTrucks < 1) throw optionError("maxTrucks must be a positive integer");
  if (!Number.isInteger(retiredMax) || retiredMax < 0) {
    throw optionError("retiredStreamsPerTruck must be a non-negative integer");
  }
  // Least recently seen first. Positions are updated in place (snapshot() and restore() copy): a record of a known
  // truck allocates nothing that outlives it, which kept the filter out of a busy consumer's garbage collection.
  let trucks = new LruMap<string, TruckPosition>();
  const gapsMax = options.gapsPerTruck ?? 4;
  if (!Number.isInteger(gapsMax) || gapsMax < 0) throw optionError("gapsPerTruck must be a non-negative integer");
  const counts = {
    kept: 0,
    duplicates: 0,
    staleStream: 0,
    late: 0,
    gaps: 0,
    missing: 0,
    streamChanges: 0,
    evicted: 0,
  };

  /** Stores a truck's new position as its most recently seen (a known truck's was touched by its lookup). */
  function remember(truckId: string, position: TruckPosition): void {
    trucks.set(truckId, position);
    if (trucks.size > maxTrucks) {
      trucks.delete(trucks.oldestKey()!);
      counts.evicted += 1;
    }
  }

  function withGap(gaps: [number, number][] | undefined, gap: SeqGap): [number, number][] {
    return gapsMax === 0 ? [] : [...(gaps ?? []), [gap.fromSeq, gap.toSeq] as [number, number]].slice(-gapsMax);
  }

  function gapBetween(fromSeq: number, toSeq: number): SeqGap | undefined {
    if (toSeq < fromSeq) return undefined;
    const gap = { fromSeq, toSeq, count: toSeq - fromSeq + 1 };
    counts.gaps += 1;
    counts.missing += gap.count;
    return gap;
  }

  function accept(record: SequencedRecord): InOrderVerdict {
    const { truckId, stream, seq } = record;
    const known = trucks.get(truckId); // marks the truck as the most recently seen
    if (known === undefined) {
      remember(truckId, { stream, seq, retired: [] });
      counts.kept += 1;
      return KEEP;
    }
    if (stream === known.stream) {
      if (seq <= known.seq) {
        const inGap = known.gaps?.findIndex(([from, to]) => seq >= from && seq <= to) ?? -1;
        if (inGap >= 0) {
          // Not lost: late. Take it off the gap (split around it), so a repeat of it counts as a duplicate.
          const [from, to] = known.gaps![inGap]!;
          const parts: [number, number][] = [];
          if (from <= seq - 1) parts.push([from, seq - 1]);
          if (seq + 1 <= to) parts.push([seq + 1, to]);
          known.gaps!.splice(inGap, 1, ...parts);
          counts.late += 1;
          counts.missing -= 1;
          return { keep: false, reason: "late", lastSeq: known.seq };
        }
        counts.duplicates += 1;
        return { keep: false, reason: "duplicate", lastSeq: known.seq };
      }
      const gap = gapBetween(known.seq + 1, seq - 1);
      known.seq = seq;
      if (gap) known.gaps = withGap(known.gaps, gap);
      counts.kept += 1;
      return gap ? { keep: true, gap } : KEEP;
    }
    if (known.retired.includes(stream)) {
      counts.staleStream += 1;
      return { keep: false, reason: "stale-stream", lastSeq: known.seq };
    }
    const retired = retiredMax === 0 ? [] : [...known.retired, known.stream].slice(-retiredMax);
    counts.kept += 1;
    counts.streamChanges += 1;
    const gap = gapBetween(FIRST_SEQ, seq - 1);
    remember(truckId, { stream, seq, retired, ...(gap ? { gaps: withGap(undefined, gap) } : {}) });
    const streamChanged = { previousStream: known.stream, previousLastSeq: known.seq };
    return gap ? { keep: true, gap, streamChanged } : { keep: true, streamChanged };
  }

  return {
    accept,
    stats: () => ({ ...counts, trucks: trucks.size }),
    snapshot(only) {
      if (only === undefined) return Object.fromEntries([...trucks.entries()].map(([id, p]) => [id, copyPosition(p)]));
      const out: Record<string, TruckPosition> = {};
      for (const id of only) {
        // peek: reading a position for storage is not seeing the truck (the LRU order stays the records' order).
        const p = trucks.peek(id);
        if (p) out[id] = copyPosition(p);
      }
      return out;
    },
    restore(snapshot) {
      trucks = new LruMap();
      for (const [id, p] of Object.entries(snapshot)) trucks.set(id, copyPosition(p));
      while (trucks.size > maxTrucks) trucks.delete(trucks.oldestKey()!);
    },
  };
}
