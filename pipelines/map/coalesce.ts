/**
 * One browser's share of the fleet's changes, coalesced. The fleet changes up to thousands of times a second; a
 * browser gets at most one update per truck per interval, built from the truck's state at send time, so:
 * - memory per client is bounded by the fleet's size (a set of truck ids) plus `maxEvents` feed entries, whatever
 *   the browser's speed;
 * - a browser that is slow (its socket has more than `maxBufferedBytes` unsent) skips intervals: it gets fewer
 *   intermediate positions, and when it catches up, the newest state of every truck that changed meanwhile, never a
 *   stale one;
 * - feed entries queue up to `maxEvents`; beyond, the oldest are dropped and counted (the page can show it).
 */
import type { FeedEntry, FleetState, TruckCondition, TruckView } from "./state.ts";

export interface DeltaMessage {
  type: "delta";
  /** Server time when the message was built (ms). */
  at: number;
  trucks: TruckView[];
  removed: string[];
  events: FeedEntry[];
  /** Feed entries this client missed because it was slower than `maxEvents` per interval. */
  eventsDropped: number;
  counts: Record<TruckCondition, number>;
}

export interface SnapshotMessage {
  type: "snapshot";
  at: number;
  trucks: TruckView[];
  events: FeedEntry[];
  counts: Record<TruckCondition, number>;
}

export interface ClientQueueOptions {
  maxEvents: number;
  maxBufferedBytes: number;
}

export interface ClientQueue {
  truck(truckId: string): void;
  removed(truckId: string): void;
  event(entry: FeedEntry): void;
  /** The delta to send now, or undefined when there is nothing new or the client's socket is still too full. */
  take(state: FleetState, bufferedBytes: number, at: number): DeltaMessage | undefined;
  /** Counters for metrics and tests. */
  stats(): { pendingTrucks: number; pendingEvents: number; skipped: number; eventsDropped: number };
}

export function createClientQueue(options: ClientQueueOptions): ClientQueue {
  let dirty = new Set<string>();
  let removed = new Set<string>();
  let events: FeedEntry[] = [];
  let eventsDropped = 0;
  let totalDropped = 0;
  let skipped = 0;
  return {
    truck(id) {
      dirty.add(id);
      removed.delete(id);
    },
    removed(id) {
      dirty.delete(id);
      removed.add(id);
    },
    event(entry) {
      events.push(entry);
      if (events.length > options.maxEvents) {
        events.shift();
        eventsDropped += 1;
        totalDropped += 1;
      }
    },
    take(state, bufferedBytes, at) {
      if (dirty.size === 0 && removed.size === 0 && events.length === 0) return undefined;
      if (bufferedBytes > options.maxBufferedBytes) {
        skipped += 1;
        return undefined;
      }
      const trucks: TruckView[] = [];
      for (const id of dirty) {
        const view = state.get(id);
        if (view) trucks.push(view);
      }
      const message: DeltaMessage = {
        type: "delta",
        at,
        trucks,
        removed: [...removed],
        events,
        eventsDropped,
        counts: state.counts(),
      };
      dirty = new Set();
      removed = new Set();
      events = [];
      eventsDropped = 0;
      return message;
    },
    stats: () => ({ pendingTrucks: dirty.size, pendingEvents: events.length, skipped, eventsDropped: totalDropped }),
  };
}

export function snapshotOf(state: FleetState, at: number): SnapshotMessage {
  return { type: "snapshot", at, trucks: [...state.all()], events: state.feed(), counts: state.counts() };
}
