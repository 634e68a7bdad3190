import { describe, expect, it } from "vitest";
import type { Alert } from "../../protocol/alerts.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "../../protocol/records.ts";
import type { RecordBatch } from "../runtime/types.ts";
import { parseDetectConfig } from "./config.ts";
import { createDetectEngine, type DetectEngine } from "./engine.ts";
import { type Geofence, parseGeofences } from "./geo.ts";

const STREAM = "0123456789abcdef";
const T0 = Date.parse("2026-11-30T06:00:00.000Z");
const MIN = 60_000;
const HOME = { lat: 51.9, lon: 4.45 };

const detectors = parseDetectConfig({ kafka: { brokers: ["x:1"] } }).detectors;

interface Step {
  min: number;
  rpm?: number | null;
  kmh?: number;
  fuel?: number;
  at?: { lat: number; lon: number };
  timeSource?: "gnss" | "system";
  /** false: the bus is silent (ignition off), the record has no engine part. */
  bus?: false;
}

/** One telemetry record per step; the Kafka time is the event time plus one second (a live truck). */
function telemetry(steps: Step[], truckId = "T1", firstSeq = 0): { record: TelemetryRecord; arrivalMs: number }[] {
  return steps.map((s, i) => {
    const at = s.at ?? HOME;
    const tsMs = T0 + s.min * MIN;
    return {
      arrivalMs: tsMs + 1_000,
      record: {
        truckId,
        stream: STREAM,
        seq: firstSeq + i,
        ts: new Date(tsMs).toISOString(),
        timeSource: s.timeSource ?? "gnss",
        gps: { fix: "3d", lat: at.lat, lon: at.lon, altM: 1, speedKmh: s.kmh ?? 0, courseDeg: 0, sats: 9, hdop: 1 },
        ...(s.bus === false
          ? {}
          : { engine: { engineSpeedRpm: s.rpm === undefined ? 650 : s.rpm, fuelLevelPct: s.fuel ?? 60 } }),
      },
    };
  });
}

let nextOffset = 0;
function batch<K extends RecordBatch["kind"]>(
  kind: K,
  items: { record: TelemetryRecord | EventRecord | StatusRecord; arrivalMs: number }[],
): RecordBatch {
  const first = nextOffset;
  nextOffset += items.length;
  const end = String(nextOffset);
  return {
    kind,
    topic: `fleet.${kind}`,
    partition: 0,
    records: items.map((d, i) => ({ record: d.record, offset: String(first + i), kafkaTimestamp: d.arrivalMs })),
    position: () => ({ nextOffset: end, filter: {} }),
  } as RecordBatch;
}

function engine(fences: Geofence[] = [], over: Partial<typeof detectors> = {}): DetectEngine {
  return createDetectEngine({
    detectors: { ...detectors, ...over },
    fences,
    maxTrucksPerPartition: 100,
    evictAfterMs: 7 * 24 * 60 * MIN,
  });
}

/** Feeds the records in batches of `size` and returns every alert, applying each plan as the service does. */
function run(e: DetectEngine, kind: RecordBatch["kind"], items: Parameters<typeof batch>[1], size = 1000): Alert[] {
  const out: Alert[] = [];
  for (let i = 0; i < items.length; i += size) {
    const plan = e.plan(batch(kind, items.slice(i, i + size)));
    e.apply(plan);
    out.push(...plan.alerts);
  }
  return out;
}

const brief = (alerts: Alert[]) => alerts.map((a) => `${a.detector}:${a.state}:${a.version}`);

const square = (id: string, c: { lat: number; lon: number }, d: number, properties: Record<string, unknown> = {}) => ({
  type: "Feature",
  id,
  properties,
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [c.lon - d, c.lat - d],
        [c.lon + d, c.lat - d],
        [c.lon + d, c.lat + d],
        [c.lon - d, c.lat + d],
        [c.lon - d, c.lat - d],
      ],
    ],
  },
});
const fences = (...features: unknown[]) => parseGeofences({ type: "FeatureCollection", features }, "test");

describe("idling", () => {
  const idle25 = Array.from({ length: 26 }, (_, m): Step => ({ min: m }));

  it("opens after 20 minutes of engine on and standing still, and closes when the truck moves", () => {
    const alerts = run(
      engine(),
      "telemetry",
      telemetry([...idle25, { min: 26, kmh: 30, at: { lat: 51.91, lon: 4.45 } }]),
    );
    expect(brief(alerts)).toEqual(["idling:opened:0", "idling:closed:1"]);
    const [opened, closed] = alerts;
    expect(opened).toMatchObject({ openedAt: "2026-11-30T06:00:00.000Z", at: "2026-11-30T06:20:00.000Z" });
    expect(opened!.trigger).toMatchObject({ seq: 20 });
    expect(opened!.thresholds).toEqual({ idleMinutes: 20, speedKmh: 3, radiusM: 50 });
    expect(closed!.id).toBe(opened!.id);
    expect(closed!.evidence.reason).toBe("moving");
  });

  it("closes when the engine stops; a stop shorter than the limit gives nothing", () => {
    expect(brief(run(engine(), "telemetry", telemetry([...idle25, { min: 26, rpm: 0 }])))).toEqual([
      "idling:opened:0",
      "idling:closed:1",
    ]);
    expect(run(engine(), "telemetry", telemetry(idle25.slice(0, 20)))).toEqual([]);
  });

  it("creeping out of the radius restarts the wait (GPS drift inside it does not)", () => {
    const drift = idle25.map((s) => ({ ...s, at: { lat: HOME.lat + (s.min % 2) * 0.0002, lon: HOME.lon } }));
    expect(brief(run(engine(), "telemetry", telemetry(drift)))).toEqual(["idling:opened:0"]);
    const creep = idle25.map((s) => ({ ...s, at: { lat: HOME.lat + s.min * 0.0006, lon: HOME.lon } }));
    expect(run(engine(), "telemetry", telemetry(creep))).toEqual([]);
  });

  it("stays quiet inside a depot where idling is allowed", () => {
    const depot = fences(square("depot", HOME, 0.01, { idlingAllowed: true }));
    const alerts = run(engine(depot), "telemetry", telemetry(idle25));
    expect(brief(alerts)).toEqual(["geofence-enter:closed:0"]);
  });

  it("does not time an idle stop on records stamped by the gateway's own clock", () => {
    const system = idle25.map((s) => ({ ...s, timeSource: "system" as const }));
    expect(run(engine(), "telemetry", telemetry(system))).toEqual([]);
  });
});

describe("fuel", () => {
  it("opens a fuel-drop when the level falls while parked with the engine off, closed when the engine starts", () => {
    const steps: Step[] = [0, 1, 2, 3, 4, 5, 6].map((m) => ({ min: m, rpm: 0, fuel: m < 3 ? 60 : 60 - (m - 2) * 2.5 }));
    const alerts = run(engine(), "telemetry", telemetry([...steps, { min: 8, rpm: 650, fuel: 50 }]));
    expect(brief(alerts)).toEqual(["fuel-drop:opened:0", "fuel-drop:closed:1"]);
    expect(alerts[0]!.evidence).toMatchObject({ fromPct: 60, toPct: 52.5, dropPct: 7.5 });
  });

  it("reports a refuel as one closed alert and no drop", () => {
    const steps: Step[] = [0, 1, 2, 3, 4].map((m) => ({ min: m, rpm: 0, fuel: m < 2 ? 20 : 20 + (m - 1) * 25 }));
    const alerts = run(engine(), "telemetry", telemetry(steps));
    expect(brief(alerts)).toEqual(["refuel:closed:0"]);
    expect(alerts[0]!.evidence).toMatchObject({ fromPct: 20, toPct: 45 });
  });

  it("ignores the level falling while driving (burnt fuel, slosh)", () => {
    const steps: Step[] = [0, 1, 2, 3].map((m) => ({ min: m, kmh: 60, fuel: 60 - m * 4 }));
    expect(run(engine(), "telemetry", telemetry(steps))).toEqual([]);
  });

  describe("across a silent bus (J1939: no level with the ignition off)", () => {
    const AWAY = { lat: 51.95, lon: 4.45 };
    /** Drives in, parks with the bus silent for `parkedMin`, starts (level `after`) and pulls away. */
    const parkedThen = (after: number, parkedMin = 60, during: Partial<Step> = {}): Step[] => [
      { min: 0, kmh: 50, fuel: 60, at: AWAY },
      { min: 1, rpm: 650, fuel: 60 },
      ...Array.from({ length: 6 }, (_, i): Step => ({ min: 2 + (i * parkedMin) / 6, bus: false, ...during })),
      { min: 2 + parkedMin, rpm: 650, fuel: after },
      { min: 3 + parkedMin, kmh: 50, fuel: after, at: AWAY },
    ];

    it("compares the level at the stop with the first after the start: a drop is one closed fuel-drop", () => {
      const alerts = run(engine(), "telemetry", telemetry(parkedThen(48)));
      expect(brief(alerts)).toEqual(["fuel-drop:closed:0"]);
      expect(alerts[0]!.trigger.seq).toBe(8);
      expect(alerts[0]!.evidence).toMatchObject({
        fromPct: 60,
        toPct: 48,
        dropPct: 12,
        fromTs: "2026-11-30T06:01:00.000Z",
        parkedMs: 61 * MIN,
        levelUnseenWhileParked: true,
      });
      expect(alerts[0]!.thresholds).toMatchObject({ dropPct: 5, refuelPct: 5, radiusM: 100 });
    });

    it("the window is the parked interval, however long (a weekend)", () => {
      expect(brief(run(engine(), "telemetry", telemetry(parkedThen(48, 3 * 24 * 60))))).toEqual(["fuel-drop:closed:0"]);
    });

    it("a rise is one refuel; a change within the thresholds gives nothing", () => {
      const alerts = run(engine(), "telemetry", telemetry(parkedThen(95)));
      expect(brief(alerts)).toEqual(["refuel:closed:0"]);
      expect(alerts[0]!.evidence).toMatchObject({ fromPct: 60, toPct: 95, risePct: 35 });
      expect(run(engine(), "telemetry", telemetry(parkedThen(56)))).toEqual([]);
    });

    it("nothing when the truck moved while the level was unseen (towed, or a lost CAN adapter on the road)", () => {
      expect(run(engine(), "telemetry", telemetry(parkedThen(48, 60, { kmh: 40 })))).toEqual([]);
      const elsewhere = parkedThen(48).map((s, i) => (i === 8 ? { ...s, at: AWAY } : s));
      expect(run(engine(), "telemetry", telemetry(elsewhere))).toEqual([]);
    });

    it("GPS drift inside the radius is standing still", () => {
      const drift = parkedThen(48).map((s, i) =>
        i >= 2 && i <= 8 ? { ...s, at: { lat: HOME.lat + (i % 2) * 0.0003, lon: HOME.lon } } : s,
      );
      expect(brief(run(engine(), "telemetry", telemetry(drift)))).toEqual(["fuel-drop:closed:0"]);
    });

    it("does not compare with a level stamped by the gateway's own clock", () => {
      const system = parkedThen(48).map((s, i) => (i === 8 ? { ...s, timeSource: "system" as const } : s));
      expect(run(engine(), "telemetry", telemetry(system))).toEqual([]);
    });

    it("levels coming again with the key on (0 rpm) after a silence: one alert, not two", () => {
      const steps: Step[] = [
        { min: 0, rpm: 0, fuel: 60 },
        { min: 1, rpm: 0, fuel: 60 },
        { min: 2, bus: false },
        { min: 3, rpm: 0, fuel: 52 },
        { min: 4, rpm: 0, fuel: 52 },
        { min: 5, rpm: 650, fuel: 52 },
      ];
      expect(brief(run(engine(), "telemetry", telemetry(steps)))).toEqual(["fuel-drop:closed:0"]);
    });
  });
});

describe("trouble codes", () => {
  const dtc = (
    seq: number,
    change: "raised" | "cleared",
    spn = 110,
    sa = 0,
  ): { record: EventRecord; arrivalMs: number } => ({
    arrivalMs: T0 + seq * MIN,
    record: {
      truckId: "T1",
      stream: STREAM,
      seq,
      ts: new Date(T0 + seq * MIN).toISOString(),
      timeSource: "gnss",
      type: "dtc",
      change,
      dtc: { j1939: { spn, fmi: 0, oc: 1, sa } },
    },
  });

  it("alerts a new code once, with its description, and closes it when cleared", () => {
    const alerts = run(engine(), "events", [
      dtc(0, "raised"),
      dtc(1, "raised"),
      dtc(2, "raised", 110, 23),
      dtc(3, "cleared"),
    ]);
    expect(brief(alerts)).toEqual(["dtc:opened:0", "dtc:opened:0", "dtc:closed:1"]);
    expect(alerts[0]!.evidence.description).toBe("engine coolant temperature: above normal (most severe)");
    expect(alerts[0]!.subject).toBe("j1939/0/110/0");
    expect(alerts[1]!.subject).toBe("j1939/23/110/0");
    expect(alerts[2]!.id).toBe(alerts[0]!.id);
  });
});

describe("geofences", () => {
  const yard = { lat: 52.0, lon: 4.6 };
  const drive: Step[] = [
    { min: 0, kmh: 50, at: { lat: 51.99, lon: 4.6 } },
    { min: 1, kmh: 20, at: yard },
    { min: 10, kmh: 0, at: yard, rpm: 0 },
    { min: 40, kmh: 0, at: yard, rpm: 0 },
    { min: 41, kmh: 40, at: { lat: 52.01, lon: 4.6 } },
  ];

  it("gives enter, dwell over the limit, and exit (which closes the dwell)", () => {
    const f = fences(square("yard", yard, 0.002, { name: "Yard 7", dwellMinutes: 30 }));
    const alerts = run(engine(f), "telemetry", telemetry(drive));
    expect(brief(alerts)).toEqual([
      "geofence-enter:closed:0",
      "geofence-dwell:opened:0",
      "geofence-dwell:closed:1",
      "geofence-exit:closed:0",
    ]);
    expect(alerts.every((a) => a.subject === "yard")).toBe(true);
    expect(alerts[0]!.message).toBe("entered Yard 7");
  });

  it("rejects a bad file naming the field", () => {
    expect(() => parseGeofences({ type: "FeatureCollection", features: [{ type: "Feature" }] }, "f.json")).toThrow(
      /f\.json: features\.0\.geometry/,
    );
  });
});

describe("silent truck", () => {
  const status = (state: "online" | "offline", reason?: string) => ({
    arrivalMs: T0,
    record: { truckId: "T1", state, ts: new Date(T0).toISOString(), ...(reason ? { reason } : {}) } as StatusRecord,
  });

  it("opens on the sweep once the partition is read to its end, and the next record closes it", () => {
    const e = engine();
    run(e, "telemetry", telemetry([{ min: 0, kmh: 60 }]));
    const later = T0 + 11 * MIN;
    expect(e.sweep(later, () => false)).toEqual([]);
    expect(e.sweep(T0 + 5 * MIN, () => true)).toEqual([]);
    const [plan] = e.sweep(later, () => true);
    expect(brief(plan!.alerts)).toEqual(["silent:opened:0"]);
    e.apply(plan!);
    expect(e.sweep(later + MIN, () => true)).toEqual([]);
    const resumed = run(e, "telemetry", telemetry([{ min: 20, kmh: 60 }], "T1", 1));
    expect(brief(resumed)).toEqual(["silent:closed:1"]);
    expect(resumed[0]!.id).toBe(plan!.alerts[0]!.id);
  });

  it("stays quiet for a truck that said goodbye, or whose last record was parked", () => {
    const e = engine();
    run(e, "telemetry", telemetry([{ min: 0, kmh: 60 }]));
    run(e, "status", [status("offline", "disconnected")]);
    expect(e.sweep(T0 + 60 * MIN, () => true)).toEqual([]);
    run(e, "status", [status("offline", "keep alive timeout")]);
    expect(e.sweep(T0 + 60 * MIN, () => true)).toHaveLength(1);
    const parked = engine();
    run(parked, "telemetry", telemetry([{ min: 0, rpm: 0 }]));
    expect(parked.sweep(T0 + 60 * MIN, () => true)).toEqual([]);
  });
});

describe("the engine", () => {
  const scenario = telemetry([
    ...Array.from({ length: 25 }, (_, m): Step => ({ min: m })),
    ...[25, 26, 27, 28, 29, 30].map((m): Step => ({ min: m, rpm: 0, fuel: m < 27 ? 60 : 40 })),
    { min: 31, kmh: 50, at: { lat: 51.95, lon: 4.45 } },
  ]);

  it("decides the same whatever the batch boundaries (replay with other fetch sizes)", () => {
    const whole = run(engine(), "telemetry", scenario);
    expect(brief(whole)).toEqual(["idling:opened:0", "idling:closed:1", "fuel-drop:opened:0", "fuel-drop:closed:1"]);
    for (const size of [1, 2, 7]) expect(run(engine(), "telemetry", scenario, size)).toEqual(whole);
  });

  it("changes nothing until a plan is applied (a failed checkpoint leaves memory as it was)", () => {
    const e = engine();
    const first = e.plan(batch("telemetry", scenario));
    const again = e.plan(batch("telemetry", scenario));
    expect(again.alerts).toEqual(first.alerts);
    expect(e.size()).toBe(0);
  });

  it("never changes the committed state while planning (a failed commit can be planned again from it)", () => {
    const depot = { lat: 52.2, lon: 4.45 };
    const e = engine(fences(square("zone-1", depot, 0.01, { dwellMinutes: 1 })));
    // Committed: an open idling alert, fuel samples, a truck inside a fence with its dwell alert open, a last-seen.
    run(e, "telemetry", scenario.slice(0, 22));
    run(
      e,
      "telemetry",
      telemetry(
        [
          { min: 0, at: depot },
          { min: 2, at: depot },
        ],
        "T2",
      ),
    );
    const committed = structuredClone(e.trucks("telemetry", 0));
    expect(committed.get("T1")?.telemetry?.idling.open?.version).toBe(0);
    expect(committed.get("T2")?.telemetry?.fences["zone-1"]?.dwell).toBeDefined();
    // Planned, not applied: closes idling (its version goes up), the fuel drop, the truck leaves the fence.
    const rest = [...scenario.slice(22), ...telemetry([{ min: 3, at: HOME }], "T2", 2)];
    const first = e.plan(batch("telemetry", rest));
    expect(brief(first.alerts)).toContain("idling:closed:1");
    expect(brief(first.alerts)).toContain("geofence-dwell:closed:1");
    expect(e.trucks("telemetry", 0)).toEqual(committed);
    expect(e.plan(batch("telemetry", rest)).alerts).toEqual(first.alerts);
  });

  it("keeps a truck's state small and evicts the longest unseen beyond the cap", () => {
    const e = createDetectEngine({ detectors, fences: [], maxTrucksPerPartition: 2, evictAfterMs: 60 * MIN });
    for (const id of ["A", "B", "C"]) run(e, "telemetry", telemetry([{ min: 0 }, { min: 1 }], id));
    expect([...e.trucks("telemetry", 0).keys()]).toEqual(["B", "C"]);
    const bytes = JSON.stringify(e.trucks("telemetry", 0).get("C")).length;
    expect(bytes).toBeLessThan(1_200);
    // A truck unseen for longer than evictAfterMs comes back with fresh state (its old stop is not continued).
    const back = run(e, "telemetry", telemetry([{ min: 200 }], "C", 2));
    expect(back).toEqual([]);
  });
});
