import { describe, expect, it } from "vitest";
import { TelemetryRecordSchema } from "../../protocol/index.ts";
import type { EventBody, TelemetryBody } from "../../protocol/index.ts";
import type { GpsFix } from "../decoders/types.ts";
import { StateConfigSchema } from "../state/config.ts";
import { createVehicleState } from "../state/state.ts";
import { SamplerConfigSchema } from "./config.ts";
import { createSampler } from "./sampler.ts";

function setup(samplerOverrides: Record<string, number> = {}) {
  let mono = 1_000_000;
  const wall = Date.UTC(2030, 0, 1);
  const clock = { monoMs: () => mono, wallMs: () => wall + mono };
  const records: TelemetryBody[] = [];
  const events: EventBody[] = [];
  const state = createVehicleState(StateConfigSchema.parse({}), { clock, onEvent: (e) => events.push(e) });
  const sampler = createSampler(SamplerConfigSchema.parse(samplerOverrides), {
    state,
    clock,
    onRecord: (r) => records.push(r),
  });
  const fix = (over: Partial<GpsFix>): void => {
    state.applyFix({
      time: new Date(Date.UTC(2026, 10, 21, 5, 0, 0) + mono).toISOString(),
      fix: "3d",
      lat: 52.5,
      lon: 13.4,
      altM: 40.04,
      speedKmh: 0,
      courseDeg: 90,
      sats: 9,
      hdop: 0.93,
      pdop: 1.5,
      ...over,
    });
    sampler.evaluate();
  };
  return { state, sampler, records, events, fix, advance: (ms: number) => (mono += ms) };
}

describe("sampler", () => {
  it("takes the first record at once, with GNSS time and fields rounded to the record's resolution", () => {
    const t = setup();
    t.fix({ lat: 52.123456789, speedKmh: 12.34 });
    expect(t.records).toHaveLength(1);
    const r = t.records[0]!;
    expect(r.timeSource).toBe("gnss");
    expect(r.gps).toMatchObject({ lat: 52.1234568, altM: 40, speedKmh: 12.3, hdop: 0.9 });
    expect(TelemetryRecordSchema.safeParse({ truckId: "T", stream: "0123456789abcdef", seq: 0, ...r }).success).toBe(
      true,
    );
  });

  it("uses the moving period while moving and the parked period while parked", () => {
    const t = setup({ movingPeriodMs: 5000, parkedPeriodMs: 60_000, distanceM: 0, headingDeg: 0, speedDeltaKmh: 0 });
    t.fix({ speedKmh: 50 });
    for (let i = 0; i < 20; i++) {
      t.advance(1000);
      t.fix({ speedKmh: 50 });
    }
    expect(t.records).toHaveLength(1 + 4); // at 0, 5, 10, 15, 20 s
    t.records.length = 0;
    for (let i = 0; i < 120; i++) {
      t.advance(1000);
      t.fix({ speedKmh: 0 });
    }
    expect(t.records.length).toBe(2); // parked: every 60 s
  });

  it("takes a record on heading change, distance and speed change, but never faster than minIntervalMs", () => {
    const t = setup({ movingPeriodMs: 600_000, minIntervalMs: 1000 });
    t.fix({ speedKmh: 50, courseDeg: 350 });
    t.advance(500);
    t.fix({ speedKmh: 50, courseDeg: 20 }); // 30 degrees, but within minIntervalMs
    expect(t.records).toHaveLength(1);
    t.advance(500);
    t.fix({ speedKmh: 50, courseDeg: 20 });
    expect(t.sampler.lastReason()).toBe("heading");
    t.advance(1000);
    t.fix({ speedKmh: 50, courseDeg: 20, lat: 52.503 }); // ~333 m north
    expect(t.sampler.lastReason()).toBe("distance");
    t.advance(1000);
    t.fix({ speedKmh: 70, courseDeg: 20, lat: 52.503 });
    expect(t.sampler.lastReason()).toBe("speed-change");
    expect(t.records).toHaveLength(4);
  });

  it("stamps a record sampled at an epoch with that epoch's time exactly, on a busy machine too", () => {
    // A busy machine: every read of the monotonic clock finds 1.3 ms more gone (GC, other processes). The record
    // taken on a fix is sampled at that epoch, so the time spent between applying the fix and building the record
    // must not leak into its ts (issue 12: 07:00:00.001Z seen where the epoch was 07:00:00.000Z).
    let mono = 5_000;
    const clock = { monoMs: () => (mono += 1.3), wallMs: () => Date.UTC(2030, 0, 1) + mono };
    const records: TelemetryBody[] = [];
    const state = createVehicleState(StateConfigSchema.parse({}), { clock, onEvent: () => {} });
    const sampler = createSampler(SamplerConfigSchema.parse({ minIntervalMs: 0, movingPeriodMs: 0 }), {
      state,
      clock,
      onRecord: (r) => records.push(r),
    });
    const epoch = (second: number) =>
      state.applyFix({
        time: new Date(Date.UTC(2026, 10, 21, 7, 0, second)).toISOString(),
        fix: "3d",
        lat: 50,
        lon: 8 + second / 1000,
        altM: 100,
        speedKmh: 80,
        courseDeg: 90,
        sats: 12,
        hdop: 0.7,
        pdop: 1,
      });
    for (let i = 0; i < 5; i++) {
      epoch(i);
      sampler.evaluate();
      mono += 998;
    }
    expect(records.map((r) => r.ts)).toEqual([0, 1, 2, 3, 4].map((i) => `2026-11-21T07:00:0${i}.000Z`));
    // Between epochs (the tick): the last epoch's time plus the monotonic time elapsed since it.
    const before = mono;
    sampler.evaluate();
    const elapsed = mono - before; // the reads the evaluation made
    expect(Date.parse(records.at(-1)!.ts)).toBeGreaterThanOrEqual(Date.UTC(2026, 10, 21, 7, 0, 4) + 998);
    expect(Date.parse(records.at(-1)!.ts)).toBeLessThanOrEqual(
      Date.UTC(2026, 10, 21, 7, 0, 4) + 998 + 1.3 * 3 + elapsed,
    );
    expect(records).toHaveLength(6);
  });

  it("falls back to the system clock, marked, when there is no GNSS time", () => {
    const t = setup();
    t.fix({ time: null });
    expect(t.records[0]!.timeSource).toBe("system");
  });
});

describe("vehicle state events", () => {
  it("emits ignition on with the first CAN message and off after silence, and DTCs raised and cleared", () => {
    const t = setup();
    const msg = (signals: Record<string, unknown>) =>
      t.state.applyMessage({ kind: "j1939", ts: null, id: 0, pgn: 65226, sa: 0, priority: 6, name: "DM1", signals });
    msg({ engineSpeedRpm: 650.125 });
    // DM1 once a second (J1939-73); a code counts once its ECU has listed it for dtcDebounceMs (1 s).
    const dm1 = (dtcs: { spn: number; fmi: number; oc: number }[]) => {
      msg({ dtcs });
      t.advance(1000);
    };
    dm1([{ spn: 100, fmi: 1, oc: 3 }]);
    dm1([
      { spn: 100, fmi: 1, oc: 4 },
      { spn: 110, fmi: 0, oc: 1 },
    ]);
    dm1([{ spn: 110, fmi: 0, oc: 1 }]);
    dm1([{ spn: 110, fmi: 0, oc: 1 }]);
    msg({ engineSpeedRpm: 650.125 });
    expect(t.state.engine()).toEqual({ engineSpeedRpm: 650 });
    t.advance(16_000);
    t.state.tick();
    expect(
      t.events.map((e) =>
        e.type === "dtc" ? `${e.change}:${e.dtc.j1939?.spn}` : `${e.type}:${"on" in e ? e.on : ""}`,
      ),
    ).toEqual(["ignition:true", "raised:100", "raised:110", "cleared:100", "ignition:false"]);
    expect(t.state.engine()).toBeUndefined(); // stale after 10 s
  });
});
