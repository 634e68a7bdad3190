import { describe, expect, it } from "vitest";
import { type Alert, alertId } from "../../protocol/alerts.ts";
import type { EventRecord, TelemetryRecord } from "../../protocol/records.ts";
import { createClientQueue, snapshotOf } from "./coalesce.ts";
import { createFleetState, type FleetState } from "./state.ts";

const STREAM = "0123456789abcdef";

function rec(truckId: string, seq: number, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    truckId,
    stream: STREAM,
    seq,
    ts: "2026-11-30T06:00:00.000Z",
    timeSource: "gnss",
    gps: { fix: "3d", lat: 50 + seq / 100, lon: 8, altM: 100, speedKmh: 60, courseDeg: 45, sats: 9, hdop: 1 },
    engine: { engineSpeedRpm: 1500, fuelLevelPct: 55.5, coolantTempC: 90 },
    ...over,
  };
}

function ev(truckId: string, seq: number, body: Record<string, unknown>): EventRecord {
  return { truckId, stream: STREAM, seq, ts: "2026-11-30T06:00:01.000Z", timeSource: "gnss", ...body } as EventRecord;
}

function fleet(over: Partial<Parameters<typeof createFleetState>[0]> = {}): FleetState {
  return createFleetState({ trailPoints: 3, feedSize: 4, maxTrucks: 100, movingKmh: 3, now: () => 1_000, ...over });
}

function alert(state: Alert["state"], version: number, at: string): Alert {
  return {
    id: alertId({ truckId: "A", detector: "idling", stream: STREAM, seq: 7 }),
    truckId: "A",
    detector: "idling",
    state,
    version,
    trigger: { stream: STREAM, seq: 7, ts: "2026-11-30T06:00:00.000Z", timeSource: "gnss" },
    openedAt: "2026-11-30T06:20:00.000Z",
    at,
    message: state === "closed" ? "idling ended: moved" : "engine running, not moving for 20 min",
    evidence: {},
    thresholds: { minIdleMs: 1_200_000 },
  };
}

describe("fleet state", () => {
  it("finds the trucks of revoked partitions by the partition of each truck's latest telemetry", () => {
    const state = fleet();
    state.applyTelemetry(rec("A", 1), 0, 0);
    state.applyTelemetry(rec("B", 1), 0, 1);
    state.applyTelemetry(rec("C", 1), 0, 2);
    // A moved to partition 2 (a repartitioned topic), and an old record still tells where it came from.
    state.applyTelemetry(rec("A", 2), 0, 2);
    state.applyTelemetry(rec("B", 1), 0, 1);
    // Seen on events only: no telemetry partition, never removed by a revoke.
    state.applyEvent(ev("D", 1, { type: "ignition", on: true }));
    expect(state.trucksFrom(new Set([2])).sort()).toEqual(["A", "C"]);
    expect(state.trucksFrom(new Set([0]))).toEqual([]);
    state.remove(state.trucksFrom(new Set([1, 2])));
    expect([...state.all()].map((t) => t.id)).toEqual(["D"]);
  });

  it("gives each truck's lag from its newest record to when the map saw it, in get, snapshots and deltas", () => {
    let clock = Date.parse("2026-11-30T06:00:02.500Z");
    const state = fleet({ now: () => clock });
    const queue = createClientQueue({ maxEvents: 10, maxBufferedBytes: 1_000 });
    state.subscribe(queue);
    state.applyTelemetry(rec("A", 1), 0);
    expect(state.get("A")!.lagMs).toBe(2_500);
    clock += 1_000;
    state.applyTelemetry(rec("A", 2, { ts: "2026-11-30T06:00:03.000Z" }), 0);
    clock += 1_000;
    state.applyTelemetry(rec("A", 3, { ts: "2026-11-30T06:00:04.400Z" }), 0);
    expect(snapshotOf(state, clock).trucks[0]!.lagMs).toBe(100);
    expect(queue.take(state, 0, clock)!.trucks[0]!.lagMs).toBe(100);
    clock += 1_000;
    // A truck clock ahead of the map's counts as no lag, never a negative one.
    state.applyTelemetry(rec("A", 4, { ts: "2026-11-30T06:00:09.000Z" }), 0);
    expect(queue.take(state, 0, clock)!.trucks[0]!.lagMs).toBe(0);
  });

  it("puts opened and closed alerts into the feed with their detector and state, not the updates", () => {
    const state = fleet({ feedSize: 10 });
    state.applyTelemetry(rec("A", 1), 0);
    const seen: string[] = [];
    state.subscribe({ truck: () => {}, removed: () => {}, event: (e) => seen.push(e.text) });
    state.applyAlert(alert("opened", 0, "2026-11-30T06:20:00.000Z"));
    state.applyAlert(alert("updated", 1, "2026-11-30T06:21:00.000Z"));
    state.applyAlert(alert("closed", 2, "2026-11-30T06:25:00.000Z"));
    const id = alert("opened", 0, "").id;
    expect(state.feed().map(({ truckId, ts, kind, text, alert }) => ({ truckId, ts, kind, text, alert }))).toEqual([
      {
        truckId: "A",
        ts: "2026-11-30T06:20:00.000Z",
        kind: "alert",
        text: "idling alert opened: engine running, not moving for 20 min",
        alert: { id, detector: "idling", state: "opened" },
      },
      {
        truckId: "A",
        ts: "2026-11-30T06:25:00.000Z",
        kind: "alert",
        text: "idling alert closed: idling ended: moved",
        alert: { id, detector: "idling", state: "closed" },
      },
    ]);
    expect(seen).toHaveLength(2);
  });

  it("keeps the newest record's values and never moves a truck back to an older one", () => {
    const state = fleet();
    state.applyTelemetry(rec("A", 5), 900);
    state.applyTelemetry(rec("A", 4, { gps: { ...rec("A", 4).gps!, lat: 1 } }), 901);
    const view = state.get("A")!;
    expect(view).toMatchObject({ seq: 5, lat: 50.05, lon: 8, headingDeg: 45, speedKmh: 60, condition: "moving" });
    expect(view).toMatchObject({ engineSpeedRpm: 1500, fuelLevelPct: 55.5, coolantTempC: 90, kafkaTs: 900 });
    // A new stream (the truck's outbox was replaced) is taken at once, whatever its seq.
    state.applyTelemetry({ ...rec("A", 0), stream: "fedcba9876543210" }, 902);
    expect(state.get("A")!.seq).toBe(0);
  });

  it("derives the condition: moving, idling, parked, no fix, offline", () => {
    const state = fleet();
    const standing = { ...rec("B", 1).gps!, speedKmh: 0.5 };
    state.applyTelemetry(rec("B", 1, { gps: standing }), 0);
    expect(state.get("B")!.condition).toBe("idling");
    state.applyTelemetry(rec("B", 2, { gps: standing, engine: undefined }), 0);
    expect(state.get("B")!.condition).toBe("parked");
    state.applyTelemetry(rec("B", 3, { gps: { ...standing, fix: "none", lat: null, lon: null } }), 0);
    expect(state.get("B")!.condition).toBe("nofix");
    state.applyStatus({ truckId: "B", state: "offline", ts: "2026-11-30T06:00:02.000Z", reason: "will" });
    expect(state.get("B")!.condition).toBe("offline");
    expect(state.counts()).toEqual({ moving: 0, idling: 0, parked: 0, offline: 1, nofix: 0 });
  });

  it("puts outbox gaps and thinned ranges into the feed, saying what was lost and what was only thinned", () => {
    const state = fleet({ feedSize: 10 });
    state.applyEvent(ev("G", 1, { type: "gap", channel: "telemetry", fromSeq: 10, toSeq: 19, count: 10 }));
    state.applyEvent(
      ev("G", 2, { type: "thinned", channel: "telemetry", fromSeq: 20, toSeq: 139, count: 108, keptEveryS: 10 }),
    );
    expect(state.feed().map(({ truckId, kind, text }) => ({ truckId, kind, text }))).toEqual([
      { truckId: "G", kind: "gap", text: "outbox full: 10 telemetry records lost (seq 10-19)" },
      {
        truckId: "G",
        kind: "thinned",
        text: "long outage: 108 telemetry records thinned to one per 10 s (seq 20-139; state changes kept)",
      },
    ]);
  });

  it("bounds trails and the feed, dropping the oldest", () => {
    const state = fleet();
    for (let seq = 1; seq <= 5; seq += 1) state.applyTelemetry(rec("C", seq), 0);
    expect(state.trail("C")).toEqual([
      [50.03, 8],
      [50.04, 8],
      [50.05, 8],
    ]);
    for (let seq = 1; seq <= 6; seq += 1) state.applyEvent(ev("C", seq, { type: "ignition", on: seq % 2 === 1 }));
    expect(state.feed().map((e) => e.text)).toEqual(["ignition on", "ignition off", "ignition on", "ignition off"]);
    expect(state.feed().map((e) => e.id)).toEqual([3, 4, 5, 6]);
  });

  it("tracks trouble codes raised and cleared, and reports status changes once", () => {
    const state = fleet();
    state.applyEvent(ev("D", 1, { type: "dtc", change: "raised", dtc: { j1939: { spn: 110, fmi: 0, oc: 1 } } }));
    state.applyEvent(ev("D", 2, { type: "dtc", change: "raised", dtc: { obd: "P0301" } }));
    expect(state.get("D")!.dtcs).toEqual(["SPN 110 FMI 0", "P0301"]);
    state.applyEvent(ev("D", 3, { type: "dtc", change: "cleared", dtc: { obd: "P0301" } }));
    expect(state.get("D")!.dtcs).toEqual(["SPN 110 FMI 0"]);
    state.applyStatus({ truckId: "D", state: "online", ts: "2026-11-30T06:00:00.000Z" });
    state.applyStatus({ truckId: "D", state: "online", ts: "2026-11-30T06:00:01.000Z" });
    expect(state.feed().filter((e) => e.kind === "online")).toHaveLength(1);
  });

  it("forgets the truck seen longest ago when full", () => {
    const state = fleet({ maxTrucks: 2 });
    const removed: string[] = [];
    state.subscribe({ truck: () => undefined, event: () => undefined, removed: (id) => removed.push(id) });
    state.applyTelemetry(rec("E1", 1), 0);
    state.applyTelemetry(rec("E2", 1), 0);
    state.applyTelemetry(rec("E1", 2), 0);
    state.applyTelemetry(rec("E3", 1), 0);
    expect(removed).toEqual(["E2"]);
    expect(state.size()).toBe(2);
  });
});

describe("client coalescing", () => {
  function wired(options = { maxEvents: 3, maxBufferedBytes: 1000 }) {
    const state = fleet();
    const queue = createClientQueue(options);
    state.subscribe(queue);
    return { state, queue };
  }

  it("sends at most one update per truck per interval, with the newest state", () => {
    const { state, queue } = wired();
    for (let seq = 1; seq <= 10; seq += 1) state.applyTelemetry(rec("F", seq), 0);
    state.applyTelemetry(rec("G", 1), 0);
    const delta = queue.take(state, 0, 5)!;
    expect(delta.trucks.map((t) => [t.id, t.seq])).toEqual([
      ["F", 10],
      ["G", 1],
    ]);
    expect(delta.counts.moving).toBe(2);
    expect(queue.take(state, 0, 6)).toBeUndefined();
  });

  it("skips intervals for a slow client, then gives it the newest state, never a stale one", () => {
    const { state, queue } = wired();
    state.applyTelemetry(rec("H", 1), 0);
    expect(queue.take(state, 5000, 1)).toBeUndefined(); // socket still holds 5000 bytes > 1000
    for (let seq = 2; seq <= 1000; seq += 1) state.applyTelemetry(rec("H", seq), 0);
    expect(queue.stats()).toMatchObject({ pendingTrucks: 1, skipped: 1 });
    const delta = queue.take(state, 0, 2)!;
    expect(delta.trucks).toHaveLength(1);
    expect(delta.trucks[0]!.seq).toBe(1000);
  });

  it("bounds a slow client's feed entries and says how many it missed", () => {
    const { state, queue } = wired();
    for (let seq = 1; seq <= 5; seq += 1) state.applyEvent(ev("I", seq, { type: "ignition", on: true }));
    const delta = queue.take(state, 0, 1)!;
    expect(delta.events.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(delta.eventsDropped).toBe(2);
  });

  it("reports removed trucks and snapshots the whole fleet", () => {
    const { state, queue } = wired();
    state.applyTelemetry(rec("J", 1), 0);
    state.applyTelemetry(rec("K", 1), 0);
    queue.take(state, 0, 1);
    state.remove(["J"]);
    expect(queue.take(state, 0, 2)).toMatchObject({ trucks: [], removed: ["J"] });
    const snapshot = snapshotOf(state, 3);
    expect(snapshot.trucks.map((t) => t.id)).toEqual(["K"]);
  });

  it("a truck back from an outage jumps to its fleet.latest position; its backlog fills the trail without moving it back", () => {
    const state = fleet({ trailPoints: 10 });
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 6, minute)).toISOString();
    state.applyTelemetry(rec("A", 1, { ts: at(0) }), 0);
    // Two hours later the truck is back: its current state (seq 120) comes first on fleet.latest.
    state.applyLatest(rec("A", 120, { ts: at(120) }), 0);
    expect(state.get("A")).toMatchObject({ lat: 51.2, ts: at(120), seq: 1 });
    // The backlog arrives in order behind it: the trail fills in, the truck stays where it is now.
    state.applyTelemetry(rec("A", 2, { ts: at(1) }), 0);
    state.applyTelemetry(rec("A", 3, { ts: at(2) }), 0);
    expect(state.get("A")).toMatchObject({ lat: 51.2, ts: at(120), seq: 3 });
    expect(state.trail("A")).toEqual([
      [50.01, 8],
      [50.02, 8],
      [50.03, 8],
    ]);
    // An older latest (a redelivery) never moves it back.
    state.applyLatest(rec("A", 60, { ts: at(60) }), 0);
    expect(state.get("A")).toMatchObject({ lat: 51.2, ts: at(120) });
    // Telemetry catching up (the latest record itself, then newer ones) moves it on as usual.
    state.applyTelemetry(rec("A", 120, { ts: at(120) }), 0);
    state.applyTelemetry(rec("A", 121, { ts: at(121) }), 0);
    expect(state.get("A")).toMatchObject({ lat: 51.21, ts: at(121), seq: 121 });
    expect(state.trail("A").at(-1)).toEqual([51.21, 8]);
  });
});
