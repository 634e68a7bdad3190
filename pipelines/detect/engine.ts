/**
 * The detectors' state machine host, with no I/O: per topic partition, a map of truck -> small JSON state. Each
 * topic partition is a state machine of its own, fed in partition order, so what it decides depends only on the
 * records (never on how Kafka happened to interleave batches of different topics): telemetry drives idling, fuel,
 * geofences and the silent detector's last-seen; events drive trouble codes; status tells the silent sweep whether
 * a truck left by its own will.
 *
 * `plan` computes a batch's alerts and the touched trucks' new states on copies; `apply` installs them only after
 * the checkpoint (alerts + states + position, one Kafka transaction) committed. A batch whose commit failed thus
 * leaves memory as it was, and its redelivery decides exactly the same.
 */
import type { Alert } from "../../protocol/alerts.ts";
import type { TruckPosition } from "../../protocol/in-order.ts";
import type { RecordKind, StreamedRecordBatch } from "../runtime/types.ts";
import type { Moment } from "./alert.ts";
import type { DetectorThresholds } from "./config.ts";
import { detectDtc, type DtcState } from "./dtc.ts";
import { detectFuel, type FuelState } from "./fuel.ts";
import { detectGeofences, type GeofenceState, idlingAllowed } from "./geofence.ts";
import { type Geofence, indexFences } from "./geo.ts";
import { detectIdling, type IdlingState } from "./idling.ts";
import { readTelemetry } from "./reading.ts";
import { CLEAN_DISCONNECT_REASON, type SilentState, sweepSilence, trackSilence } from "./silent.ts";

export interface TelemetryTruck {
  idling: IdlingState;
  fuel: FuelState;
  fences: GeofenceState;
  silent: SilentState;
}

export interface EventsTruck {
  dtcs: DtcState;
}

export interface StatusTruck {
  state: "online" | "offline";
  reason?: string;
}

/** One truck's entry in one topic partition: what the changelog stores under its key. */
export interface TruckEntry {
  /** Kafka time of the truck's last record here: eviction's clock. */
  seenMs: number;
  /** The in-order filter's position for the truck (telemetry, events). */
  filter?: TruckPosition;
  telemetry?: TelemetryTruck;
  events?: EventsTruck;
  status?: StatusTruck;
}

export interface Plan {
  kind: RecordKind;
  partition: number;
  alerts: Alert[];
  /** New entries of the touched trucks (null: evicted). */
  updates: Map<string, TruckEntry | null>;
  nextOffset?: string;
  /** Dropped because a truck had too many open trouble codes. */
  droppedDtcs: number;
}

export interface EngineOptions {
  detectors: DetectorThresholds;
  fences: readonly Geofence[];
  maxTrucksPerPartition: number;
  evictAfterMs: number;
}

interface PartitionState {
  trucks: Map<string, TruckEntry>;
  nextOffset?: string;
}

export interface DetectEngine {
  plan(batch: StreamedRecordBatch): Plan;
  /** The silent sweep at wall time `nowMs`, for telemetry partitions read to their end. */
  sweep(nowMs: number, caughtUp: (partition: number) => boolean): Plan[];
  /** Installs a committed plan. */
  apply(plan: Plan): void;
  /** Replaces a partition's state (restored from the changelog). */
  restore(kind: RecordKind, partition: number, nextOffset: string, trucks: Map<string, TruckEntry>): void;
  drop(kind: RecordKind, partition: number): void;
  /** The position and filter of a partition held in memory, or undefined. */
  position(
    kind: RecordKind,
    partition: number,
  ): { nextOffset: string; filter: Record<string, TruckPosition> } | undefined;
  /** The next offset of a partition held in memory. */
  nextOffset(kind: RecordKind, partition: number): string | undefined;
  partitions(kind: RecordKind): number[];
  trucks(kind: RecordKind, partition: number): ReadonlyMap<string, TruckEntry>;
  /** Trucks held over all partitions. */
  size(): number;
}

const pkey = (kind: RecordKind, partition: number) => `${kind}/${partition}`;

const freshTelemetry = (): TelemetryTruck => ({ idling: {}, fuel: { samples: [] }, fences: {}, silent: {} });

export function createDetectEngine(options: EngineOptions): DetectEngine {
  const { detectors: t } = options;
  const fences = indexFences(options.fences);
  const held = new Map<string, PartitionState>();
  const allowedAt = (at: { lat: number; lon: number }) => idlingAllowed(fences, at);

  function partitionOf(kind: RecordKind, partition: number): PartitionState {
    const k = pkey(kind, partition);
    let p = held.get(k);
    if (!p) held.set(k, (p = { trucks: new Map() }));
    return p;
  }

  /** The truck's entry to work on: a copy of the held one, or a fresh one when none or evicted by age. */
  function working(plan: Plan, p: PartitionState, truckId: string, arrivalMs: number): TruckEntry {
    const planned = plan.updates.get(truckId);
    if (planned) return planned;
    const current = p.trucks.get(truckId);
    const entry: TruckEntry =
      current && arrivalMs - current.seenMs <= options.evictAfterMs ? structuredClone(current) : { seenMs: arrivalMs };
    plan.updates.set(truckId, entry);
    return entry;
  }

  function planBatch(batch: StreamedRecordBatch): Plan {
    const plan: Plan = { kind: batch.kind, partition: batch.partition, alerts: [], updates: new Map(), droppedDtcs: 0 };
    const p = partitionOf(batch.kind, batch.partition);
    const out = plan.alerts;
    switch (batch.kind) {
      case "telemetry":
        for (const d of batch.records) {
          const entry = working(plan, p, d.record.truckId, d.kafkaTimestamp);
          entry.seenMs = Math.max(entry.seenMs, d.kafkaTimestamp);
          const state = (entry.telemetry ??= freshTelemetry());
          const r = readTelemetry(d.record, d.kafkaTimestamp);
          trackSilence(state.silent, r, t.silent, out);
          detectIdling(state.idling, r, t.idling, allowedAt, out);
          detectFuel(state.fuel, r, t.fuel, t.idling.speedKmh, out);
          detectGeofences(state.fences, r, fences, out);
        }
        break;
      case "events":
        for (const d of batch.records) {
          const entry = working(plan, p, d.record.truckId, d.kafkaTimestamp);
          entry.seenMs = Math.max(entry.seenMs, d.kafkaTimestamp);
          const e = d.record;
          if (e.type !== "dtc") continue;
          const moment: Moment = {
            truckId: e.truckId,
            stream: e.stream,
            seq: e.seq,
            tsMs: Date.parse(e.ts),
            timeSource: e.timeSource,
          };
          if (e.gps && e.gps.fix !== "none" && e.gps.lat !== null && e.gps.lon !== null) {
            moment.position = { lat: e.gps.lat, lon: e.gps.lon };
          }
          if (!detectDtc((entry.events ??= { dtcs: {} }).dtcs, e, moment, out)) plan.droppedDtcs += 1;
        }
        break;
      case "status":
        for (const d of batch.records) {
          const entry = working(plan, p, d.record.truckId, d.kafkaTimestamp);
          entry.seenMs = Math.max(entry.seenMs, d.kafkaTimestamp);
          entry.status = {
            state: d.record.state,
            ...(d.record.reason === undefined ? {} : { reason: d.record.reason }),
          };
        }
        break;
    }
    const position = batch.position(plan.updates.keys());
    plan.nextOffset = position.nextOffset;
    if (position.filter) {
      for (const [truckId, entry] of plan.updates) {
        const f = position.filter[truckId];
        if (entry && f) entry.filter = f;
      }
    }
    // Bounded: beyond the cap, the longest unseen trucks go (their open alerts stay open for the alert reader).
    const over = p.trucks.size + [...plan.updates.keys()].filter((id) => !p.trucks.has(id)).length;
    let excess = over - options.maxTrucksPerPartition;
    for (const id of p.trucks.keys()) {
      if (excess <= 0) break;
      if (plan.updates.has(id)) continue;
      plan.updates.set(id, null);
      excess -= 1;
    }
    return plan;
  }

  function leftByWill(truckId: string): boolean {
    for (const [k, p] of held) {
      if (!k.startsWith("status/")) continue;
      const s = p.trucks.get(truckId)?.status;
      if (s) return s.state === "offline" && s.reason === CLEAN_DISCONNECT_REASON;
    }
    return false;
  }

  return {
    plan: planBatch,
    sweep(nowMs, caughtUp) {
      const plans: Plan[] = [];
      for (const [k, p] of held) {
        const [kind, number] = k.split("/") as [RecordKind, string];
        const partition = Number(number);
        const silence = kind === "telemetry" && caughtUp(partition);
        const plan: Plan = { kind, partition, alerts: [], updates: new Map(), droppedDtcs: 0 };
        let newest = 0;
        for (const entry of p.trucks.values()) newest = Math.max(newest, entry.seenMs);
        for (const [truckId, entry] of p.trucks) {
          // Trucks unseen for evictAfterMs (relative to the partition's newest record) leave memory and changelog.
          if (newest - entry.seenMs > options.evictAfterMs) {
            plan.updates.set(truckId, null);
            continue;
          }
          if (!silence || !entry.telemetry) continue;
          // Shallow copies: the sweep only ever sets silent.open.
          const copy = { ...entry, telemetry: { ...entry.telemetry, silent: { ...entry.telemetry.silent } } };
          if (sweepSilence(copy.telemetry.silent, nowMs, t.silent, leftByWill(truckId), plan.alerts)) {
            plan.updates.set(truckId, copy);
          }
        }
        if (plan.updates.size > 0) plans.push(plan);
      }
      return plans;
    },
    apply(plan) {
      const p = partitionOf(plan.kind, plan.partition);
      for (const [truckId, entry] of plan.updates) {
        // Delete first so the map's order stays least-recently-seen first (eviction takes from the front).
        p.trucks.delete(truckId);
        if (entry) p.trucks.set(truckId, entry);
      }
      if (plan.nextOffset !== undefined) p.nextOffset = plan.nextOffset;
    },
    restore(kind, partition, nextOffset, trucks) {
      held.set(pkey(kind, partition), { trucks, nextOffset });
    },
    drop(kind, partition) {
      held.delete(pkey(kind, partition));
    },
    position(kind, partition) {
      const p = held.get(pkey(kind, partition));
      if (!p || p.nextOffset === undefined) return undefined;
      const filter: Record<string, TruckPosition> = {};
      for (const [truckId, entry] of p.trucks) if (entry.filter) filter[truckId] = entry.filter;
      return { nextOffset: p.nextOffset, filter };
    },
    nextOffset: (kind, partition) => held.get(pkey(kind, partition))?.nextOffset,
    partitions(kind) {
      return [...held.keys()].filter((k) => k.startsWith(`${kind}/`)).map((k) => Number(k.slice(kind.length + 1)));
    },
    trucks: (kind, partition) => held.get(pkey(kind, partition))?.trucks ?? new Map(),
    size() {
      let n = 0;
      for (const p of held.values()) n += p.trucks.size;
      return n;
    },
  };
}
