import { describe, expect, it } from "vitest";
import type { TelemetryBody } from "../../protocol/index.ts";
import { recordKey } from "./keys.ts";
import { selectThinning, stateKey } from "./thinning.ts";

const T0 = Date.parse("2026-03-14T08:00:00.000Z");
const HOUR = 3_600_000;
const options = { keepEveryMs: 30_000, windowMs: HOUR };

/** A moving truck with its engine running at 1 Hz, no trouble codes. */
function body(second: number, change: Partial<TelemetryBody> = {}): TelemetryBody {
  return {
    ts: new Date(T0 + second * 1000).toISOString(),
    timeSource: "gnss",
    gps: { fix: "3d", lat: 48, lon: 11, altM: 500, speedKmh: 80, courseDeg: 90, sats: 9, hdop: 0.9 },
    engine: { engineSpeedRpm: 1300 },
    ...change,
  };
}

function rows(bodies: TelemetryBody[], firstSeq = 100): Array<[string, string]> {
  return bodies.map((b, i) => [recordKey("telemetry", firstSeq + i), JSON.stringify(b)]);
}

const kept = (all: Array<[string, string]>, plan: ReturnType<typeof selectThinning>) => {
  const removed = new Set(plan!.remove.map((r) => r.seq));
  return all.slice(0, plan!.examined).filter(([k]) => !removed.has(Number.parseInt(k.slice(2), 16)));
};

describe("thinning selection", () => {
  it("keeps one position per interval of the oldest hour and stops at the hour's end", () => {
    // Two hours at 1 Hz: the pass takes the first hour only (seconds 0..3599), keeps 0, 30, 60, ... (120 records).
    const all = rows(Array.from({ length: 7200 }, (_, s) => body(s)));
    const plan = selectThinning(all, options, false)!;
    expect(plan.fromSeq).toBe(100);
    expect(plan.toSeq).toBe(100 + 3599);
    expect(plan.examined).toBe(3600);
    expect(plan.remove).toHaveLength(3600 - 120);
    expect(kept(all, plan).map(([, v]) => (Date.parse(JSON.parse(v).ts) - T0) / 1000)).toEqual(
      Array.from({ length: 120 }, (_, i) => i * 30),
    );
    expect(plan.remove[0]).toEqual({ seq: 101, key: all[1]![0], bytes: all[1]![0].length + all[1]![1].length });
  });

  it("never thins an hour that is not over yet (the newest records), unless the read stopped at its limit", () => {
    const all = rows(Array.from({ length: 1800 }, (_, s) => body(s)));
    expect(selectThinning(all, options, false)).toBeUndefined();
    const plan = selectThinning(all, options, true)!;
    expect(plan.examined).toBe(1800);
    expect(plan.remove).toHaveLength(1800 - 60);
  });

  it("keeps both sides of every state change: engine, trouble codes, moving/stopped, parking brake", () => {
    const bodies = Array.from({ length: 3700 }, (_, s) => body(s));
    const stopped = { speedKmh: 0 } as const;
    // Stops at 1000 s, moves again at 1200 s (geofence dwell); a code raised at 2000 s; engine off 2500-2600 s;
    // parking brake set 2700-2800 s while stopped.
    for (let s = 1000; s < 1200; s++) bodies[s] = body(s, { gps: { ...bodies[s]!.gps!, ...stopped } });
    for (let s = 2000; s < 3700; s++) bodies[s] = body(s, { dtcs: [{ spn: 3216, fmi: 4, oc: 1 }] });
    for (let s = 2500; s < 2600; s++) bodies[s] = { ...bodies[s]!, engine: undefined } as TelemetryBody;
    for (let s = 2700; s < 2800; s++) {
      bodies[s] = { ...bodies[s]!, engine: { engineSpeedRpm: 600, parkingBrake: true } };
    }
    const all = rows(bodies, 0);
    const plan = selectThinning(all, options, false)!;
    const removed = new Set(plan.remove.map((r) => r.seq));
    for (const edge of [1000, 1200, 2000, 2500, 2600, 2700, 2800]) {
      expect(removed.has(edge - 1), `${edge - 1}`).toBe(false);
      expect(removed.has(edge), `${edge}`).toBe(false);
    }
    // Between changes the interval still holds: nothing kept closer than 30 s except around a change.
    expect(removed.has(1001)).toBe(true);
    expect(removed.has(1030)).toBe(false);
  });

  it("keeps records it cannot read and restarts the interval when the clock goes back", () => {
    const all = rows(
      Array.from({ length: 4300 }, (_, s) => body(s)),
      0,
    );
    all[10] = [all[10]![0], "{not json"];
    // System time before a fix: the clock jumps back 10 minutes at 100 s.
    for (let s = 100; s < 4300; s++) all[s] = [all[s]![0], JSON.stringify(body(s - 600))];
    const plan = selectThinning(all, options, false)!;
    const removed = new Set(plan.remove.map((r) => r.seq));
    expect(removed.has(10)).toBe(false);
    expect(removed.has(9)).toBe(false); // the row before an unreadable one (a change of unknown kind)
    expect(removed.has(100)).toBe(false); // the first record after the jump back
    expect(removed.has(101)).toBe(true);
    expect(removed.has(130)).toBe(false);
    // The window is an hour of the first row's clock: the jump back makes it longer in records.
    expect(plan.examined).toBe(3600 + 600);
  });

  it("an empty read or a window of unreadable records thins nothing", () => {
    expect(selectThinning([], options, true)).toBeUndefined();
    expect(selectThinning([[recordKey("telemetry", 1), "x"]], options, true)).toBeUndefined();
  });

  it("state keys: engine off/on/running, moving from GPS or wheel speed, codes in any order", () => {
    expect(stateKey({})).toBe("off ?  ");
    expect(stateKey({ engine: { engineSpeedRpm: 0, wheelSpeedKmh: 12 } })).toBe("on moving  ");
    const a = stateKey({
      dtcs: [
        { spn: 1, fmi: 2, oc: 1 },
        { spn: 3, fmi: 4, oc: 1, sa: 3 },
      ],
      obdDtcs: ["P0301"],
    });
    const b = stateKey({
      dtcs: [
        { spn: 3, fmi: 4, oc: 9, sa: 3 },
        { spn: 1, fmi: 2, oc: 5 },
      ],
      obdDtcs: ["P0301"],
    });
    expect(a).toBe(b); // the occurrence count is not a change of state
  });
});
