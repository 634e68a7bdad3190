/**
 * The live map's model of the fleet: each truck's latest state, a bounded trail of recent positions, and a bounded
 * feed of recent events. Pure (no I/O, the clock passed in), so the rules are unit-tested:
 * - a truck's state is the newest record of its current stream: an older one (a redelivery after a rebalance or a
 *   restart, whose records the runtime's fresh filter keeps again) never moves a truck back;
 * - a record from fleet.latest newer than what the truck shows moves it at once; the truck's older telemetry (its
 *   backlog after an outage) then extends the trail without moving it back, until telemetry catches up;
 * - every change bumps the truck's version and is reported to `onChange`, which the per-client coalescers use.
 */
import { LruMap } from "../../common/lru.ts";
import type { Alert } from "../../protocol/alerts.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "../../protocol/records.ts";

export type TruckCondition = "moving" | "idling" | "parked" | "offline" | "nofix";

/** What the page gets for one truck (JSON). */
export interface TruckView {
  id: string;
  condition: TruckCondition;
  lat: number | null;
  lon: number | null;
  headingDeg: number | null;
  speedKmh: number | null;
  fix: "none" | "2d" | "3d" | null;
  engineSpeedRpm: number | null;
  fuelLevelPct: number | null;
  coolantTempC: number | null;
  /** Active trouble codes, "SPN 110 FMI 0" (J1939) or "P0301" (OBD-II). */
  dtcs: string[];
  ignition: boolean | null;
  online: boolean | null;
  /** The newest record's time (truck clock) and where it sits in the truck's sequence. */
  ts: string | null;
  stream: string | null;
  seq: number | null;
  /** When the map received the newest record (map clock, ms since the epoch). */
  seenAt: number | null;
  /** Kafka timestamp of the newest record (ms): when the bridge produced it. */
  kafkaTs: number | null;
  /** From the record's own time to the map receiving it (ms): how far behind the truck the map is. */
  lagMs: number | null;
}

export interface FeedEntry {
  /** Rises by one per entry: the page orders and de-duplicates by it. */
  id: number;
  truckId: string;
  ts: string;
  kind: "ignition" | "dtc" | "gap" | "thinned" | "start" | "online" | "offline" | "alert";
  text: string;
  /** Alerts only: which detector and the alert's state, so the page can mark them. */
  alert?: { id: string; detector: string; state: "opened" | "updated" | "closed" };
}

export interface FleetStateOptions {
  /** Positions kept per truck (when full: the oldest is dropped). */
  trailPoints: number;
  /** Entries kept in the event feed (when full: the oldest is dropped). */
  feedSize: number;
  /** Trucks kept (when full: the truck seen longest ago is forgotten). */
  maxTrucks: number;
  /** Below this speed a truck counts as standing (GPS speed jitters around 0). */
  movingKmh: number;
  now?: () => number;
}

export interface FleetState {
  /**
   * `partition`: the telemetry partition the record came from, kept with the truck so that the trucks of a revoked
   * partition can be found (`trucksFrom`) without a map of its own looked up per record.
   */
  applyTelemetry(record: TelemetryRecord, kafkaTs: number, partition?: number): void;
  /**
   * A truck's current state from fleet.latest (issue 20): shown when newer (by event time) than what the truck
   * shows, so a truck back from an outage jumps to where it is now; its backlog then fills in the trail behind it.
   */
  applyLatest(record: TelemetryRecord, kafkaTs: number): void;
  applyEvent(record: EventRecord): void;
  applyStatus(record: StatusRecord): void;
  /**
   * An alert change from fleet.alerts (the detect pipeline) -> a feed entry. Only opened and closed: an "updated"
   * (the same alert with new evidence) would fill the feed without news. Does not create a truck the map has not
   * seen: an alert refers to a truck whose records the map reads anyway.
   */
  applyAlert(alert: Alert): void;
  /** Forgets trucks (their partitions were revoked). */
  remove(truckIds: Iterable<string>): void;
  /** The trucks whose latest telemetry came from one of these partitions. */
  trucksFrom(partitions: ReadonlySet<number>): string[];
  get(truckId: string): TruckView | undefined;
  trail(truckId: string): [number, number][];
  all(): IterableIterator<TruckView>;
  size(): number;
  counts(): Record<TruckCondition, number>;
  feed(): FeedEntry[];
  /** Called with a truck id whenever its view changed, and with each new feed entry. */
  subscribe(listener: FleetListener): () => void;
}

export interface FleetListener {
  truck(truckId: string): void;
  event(entry: FeedEntry): void;
  removed(truckId: string): void;
}

export const CONDITIONS: readonly TruckCondition[] = ["moving", "idling", "parked", "offline", "nofix"];

interface Truck {
  view: TruckView;
  /**
   * The last `trailPoints` positions as a ring of lat, lon pairs; `trailLength` of them are filled, the newest at
   * `trailNext - 1`. A ring of numbers, not an array of [lat, lon] pairs: every record adds a position that lives
   * for `trailPoints` records of the truck, long enough to be promoted to V8's old generation, and with 10,000 trucks
   * those pairs were most of the map's garbage collection (npm run bench:map).
   */
  trail: Float64Array;
  trailNext: number;
  trailLength: number;
  /** Active J1939 codes by "spn/fmi" and OBD-II codes (from telemetry's lists, kept current by dtc events). */
  dtcs: Set<string>;
  /** The dtcs changed since the view's list was made. */
  dtcsChanged: boolean;
  /**
   * The time of a fleet.latest record the view shows that the truck's telemetry has not caught up with yet (a truck
   * back from an outage): older telemetry only extends the trail until it does.
   */
  ahead: string | undefined;
  /**
   * The view's lagMs is older than its newest record. Brought up to date when the view is read (get, all), not per
   * record: Date.parse of the record's time was about 5% of the map's CPU per record in bench:map's catch-up, and a
   * browser reads a truck at most once per interval however many of its records came meanwhile.
   */
  lagStale: boolean;
  /** The telemetry partition of the truck's latest telemetry record (undefined: none seen yet). */
  partition: number | undefined;
}

function emptyView(id: string): TruckView {
  return {
    id,
    condition: "nofix",
    lat: null,
    lon: null,
    headingDeg: null,
    speedKmh: null,
    fix: null,
    engineSpeedRpm: null,
    fuelLevelPct: null,
    coolantTempC: null,
    dtcs: [],
    ignition: null,
    online: null,
    ts: null,
    stream: null,
    seq: null,
    seenAt: null,
    kafkaTs: null,
    lagMs: null,
  };
}

export function conditionOf(view: TruckView, movingKmh: number): TruckCondition {
  if (view.online === false) return "offline";
  if (view.lat === null || view.lon === null || view.fix === "none") return "nofix";
  if ((view.speedKmh ?? 0) >= movingKmh) return "moving";
  const engineOn = (view.engineSpeedRpm ?? 0) > 0 || view.ignition === true;
  return engineOn ? "idling" : "parked";
}

const j1939Code = (spn: number, fmi: number) => `SPN ${spn} FMI ${fmi}`;

export function createFleetState(options: FleetStateOptions): FleetState {
  const now = options.now ?? Date.now;
  // Least recently seen first, for eviction.
  const trucks = new LruMap<string, Truck>();
  const feed: FeedEntry[] = [];
  const listeners = new Set<FleetListener>();
  let nextFeedId = 1;

  function truckOf(id: string): Truck {
    let truck = trucks.get(id); // marks it as the most recently seen
    if (truck) return truck;
    truck = {
      view: emptyView(id),
      trail: new Float64Array(2 * options.trailPoints),
      trailNext: 0,
      trailLength: 0,
      dtcs: new Set(),
      dtcsChanged: false,
      ahead: undefined,
      lagStale: false,
      partition: undefined,
    };
    trucks.set(id, truck);
    if (trucks.size > options.maxTrucks) {
      const oldest = trucks.oldestKey()!;
      trucks.delete(oldest);
      for (const l of listeners) l.removed(oldest);
    }
    return truck;
  }

  function addTrail(truck: Truck, lat: number, lon: number): void {
    if (options.trailPoints === 0) return;
    truck.trail[2 * truck.trailNext] = lat;
    truck.trail[2 * truck.trailNext + 1] = lon;
    truck.trailNext = (truck.trailNext + 1) % options.trailPoints;
    truck.trailLength = Math.min(truck.trailLength + 1, options.trailPoints);
  }

  function trailOf(truck: Truck): [number, number][] {
    const points: [number, number][] = [];
    const first = (truck.trailNext - truck.trailLength + options.trailPoints) % options.trailPoints;
    for (let i = 0; i < truck.trailLength; i += 1) {
      const at = (first + i) % options.trailPoints;
      points.push([truck.trail[2 * at]!, truck.trail[2 * at + 1]!]);
    }
    return points;
  }

  function setDtcs(truck: Truck, codes: Set<string>): void {
    if (codes.size === truck.dtcs.size && [...codes].every((c) => truck.dtcs.has(c))) return;
    truck.dtcs = codes;
    truck.dtcsChanged = true;
  }

  function changed(truck: Truck): void {
    if (truck.dtcsChanged) {
      truck.view.dtcs = [...truck.dtcs];
      truck.dtcsChanged = false;
    }
    truck.view.condition = conditionOf(truck.view, options.movingKmh);
    for (const l of listeners) l.truck(truck.view.id);
  }

  function addFeed(truckId: string, ts: string, kind: FeedEntry["kind"], text: string, alert?: FeedEntry["alert"]) {
    const entry: FeedEntry = { id: nextFeedId++, truckId, ts, kind, text };
    if (alert) entry.alert = alert;
    feed.push(entry);
    if (feed.length > options.feedSize) feed.shift();
    for (const l of listeners) l.event(entry);
  }

  /** Makes the truck's view show `record`; `trail`: its position also extends the trail. */
  function show(truck: Truck, record: TelemetryRecord, kafkaTs: number, trail: boolean): void {
    const v = truck.view;
    const seenAt = now();
    v.ts = record.ts;
    v.seenAt = seenAt;
    v.kafkaTs = kafkaTs;
    truck.lagStale = true;
    const gps = record.gps;
    if (gps) {
      v.fix = gps.fix;
      if (gps.lat !== null && gps.lon !== null && gps.fix !== "none") {
        v.lat = gps.lat;
        v.lon = gps.lon;
        if (trail) addTrail(truck, gps.lat, gps.lon);
      }
      if (gps.courseDeg !== null) v.headingDeg = gps.courseDeg;
      v.speedKmh = gps.speedKmh;
    }
    const engine = record.engine;
    // No engine part: the ECU is asleep (ignition off), so the engine is not running.
    v.engineSpeedRpm = engine ? (engine.engineSpeedRpm ?? null) : 0;
    if (engine?.fuelLevelPct !== undefined) v.fuelLevelPct = engine.fuelLevelPct;
    if (engine?.coolantTempC !== undefined) v.coolantTempC = engine.coolantTempC;
    if (record.dtcs || record.obdDtcs) {
      setDtcs(truck, new Set([...(record.dtcs ?? []).map((d) => j1939Code(d.spn, d.fmi)), ...(record.obdDtcs ?? [])]));
    }
    changed(truck);
  }

  /** The truck's view with its lag brought up to date (computed from the newest record's time and seenAt). */
  function viewOf(truck: Truck): TruckView {
    const v = truck.view;
    if (truck.lagStale) {
      truck.lagStale = false;
      v.lagMs = Math.max(0, v.seenAt! - Date.parse(v.ts!));
    }
    return v;
  }

  /** True when the record is older than what the truck shows (same stream, seq not above). */
  function isOld(view: TruckView, stream: string, seq: number): boolean {
    return view.stream === stream && view.seq !== null && seq <= view.seq;
  }

  return {
    applyTelemetry(record, kafkaTs, partition) {
      const truck = truckOf(record.truckId);
      if (partition !== undefined) truck.partition = partition;
      const v = truck.view;
      if (isOld(v, record.stream, record.seq)) return;
      // The same string kept while the stream goes on: each record's copy would live until the truck's next record.
      if (v.stream !== record.stream) v.stream = record.stream;
      v.seq = record.seq;
      if (truck.ahead !== undefined) {
        if (record.ts < truck.ahead) {
          // The backlog of a truck back from an outage, behind the current state fleet.latest showed: its trail
          // fills in, the truck stays where it is now (never moved back to an older time).
          const gps = record.gps;
          if (gps && gps.lat !== null && gps.lon !== null && gps.fix !== "none") addTrail(truck, gps.lat, gps.lon);
          return;
        }
        truck.ahead = undefined;
      }
      show(truck, record, kafkaTs, true);
    },

    applyLatest(record, kafkaTs) {
      const truck = truckOf(record.truckId);
      // Newer event time wins: a latest record older than what the truck shows changes nothing.
      if (truck.view.ts !== null && record.ts <= truck.view.ts) return;
      truck.ahead = record.ts;
      show(truck, record, kafkaTs, false);
    },

    applyEvent(record) {
      const truck = truckOf(record.truckId);
      switch (record.type) {
        case "ignition":
          truck.view.ignition = record.on;
          addFeed(record.truckId, record.ts, "ignition", `ignition ${record.on ? "on" : "off"}`);
          break;
        case "dtc": {
          const code = record.dtc.j1939 ? j1939Code(record.dtc.j1939.spn, record.dtc.j1939.fmi) : record.dtc.obd;
          if (code === undefined) break;
          const before = truck.dtcs.size;
          if (record.change === "raised") truck.dtcs.add(code);
          else truck.dtcs.delete(code);
          if (truck.dtcs.size !== before) truck.dtcsChanged = true;
          addFeed(record.truckId, record.ts, "dtc", `trouble code ${code} ${record.change}`);
          break;
        }
        case "gap":
          addFeed(
            record.truckId,
            record.ts,
            "gap",
            `outbox full: ${record.count} ${record.channel} records lost (seq ${record.fromSeq}-${record.toSeq})`,
          );
          break;
        case "thinned":
          // Not a loss like a gap: the truck kept one position per keptEveryS and every state change (event v1.2).
          addFeed(
            record.truckId,
            record.ts,
            "thinned",
            `long outage: ${record.count} ${record.channel} records thinned to one per ${record.keptEveryS} s ` +
              `(seq ${record.fromSeq}-${record.toSeq}; state changes kept)`,
          );
          break;
        case "start":
          addFeed(record.truckId, record.ts, "start", `agent ${record.agentVersion} started`);
          break;
      }
      changed(truck);
    },

    applyStatus(record) {
      const truck = truckOf(record.truckId);
      const online = record.state === "online";
      if (truck.view.online === online) return;
      truck.view.online = online;
      const why = !online && record.reason ? ` (${record.reason})` : "";
      addFeed(record.truckId, record.ts, record.state, `${record.state}${why}`);
      changed(truck);
    },

    applyAlert(alert) {
      if (alert.state === "updated") return;
      const text = `${alert.detector} alert ${alert.state}: ${alert.message}`;
      addFeed(alert.truckId, alert.at, "alert", text, { id: alert.id, detector: alert.detector, state: alert.state });
    },

    remove(truckIds) {
      for (const id of truckIds) {
        if (!trucks.delete(id)) continue;
        for (const l of listeners) l.removed(id);
      }
    },
    trucksFrom(partitions) {
      const ids: string[] = [];
      for (const t of trucks.values())
        if (t.partition !== undefined && partitions.has(t.partition)) ids.push(t.view.id);
      return ids;
    },
    get(id) {
      const truck = trucks.peek(id);
      return truck ? viewOf(truck) : undefined;
    },
    trail(id) {
      const truck = trucks.peek(id);
      return truck ? trailOf(truck) : [];
    },
    all: () => [...trucks.values()].map(viewOf)[Symbol.iterator](),
    size: () => trucks.size,
    counts() {
      const counts = { moving: 0, idling: 0, parked: 0, offline: 0, nofix: 0 };
      for (const t of trucks.values()) counts[t.view.condition] += 1;
      return counts;
    },
    // By time: after a restart, status and events are read side by side, so arrival order mixes trucks and topics.
    feed: () => [...feed].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id - b.id)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
