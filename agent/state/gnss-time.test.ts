/**
 * GNSS time the agent can trust (issue 15.3) and positions that only valid fixes replace (15.4): through the vehicle
 * state as the agent wires it, plus property tests of the clock rules.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GpsFix } from "../decoders/types.ts";
import { parseAgentConfig } from "../config.ts";
import { scaledClock } from "./clock.ts";
import { StateConfigSchema } from "./config.ts";
import { AGENT_NOT_BEFORE_MS, createGnssClock, GPS_WEEK_ROLLOVER_MS } from "./gnss-time.ts";
import { createVehicleState } from "./state.ts";

const REAL = Date.UTC(2026, 10, 30, 7, 0, 0);
const SYSTEM = Date.UTC(1970, 0, 1, 0, 5, 0); // a Pi without a clock battery, before NTP

function setup(config: Record<string, unknown> = {}) {
  let mono = 50_000;
  const clock = { monoMs: () => mono, wallMs: () => SYSTEM + mono };
  const state = createVehicleState(StateConfigSchema.parse(config), { clock, onEvent: () => {} });
  return { state, advance: (ms: number) => (mono += ms) };
}

function fix(time: number | null, over: Partial<GpsFix> = {}): GpsFix {
  return {
    time: time === null ? null : new Date(time).toISOString(),
    fix: "3d",
    lat: 48.1,
    lon: 11.5,
    altM: 520,
    speedKmh: 0,
    courseDeg: null,
    sats: 9,
    hdop: 0.9,
    pdop: 1.4,
    ...over,
  };
}

describe("GNSS time", () => {
  it("takes no time from an epoch without a fix: a cold start's 1999-08-22 never stamps a record", () => {
    const t = setup();
    t.state.applyFix(fix(Date.UTC(1999, 7, 22, 0, 0, 5), { fix: "none", lat: null, lon: null, altM: null }));
    expect(t.state.now().timeSource).toBe("system");
    t.advance(1000);
    t.state.applyFix(fix(Date.UTC(2006, 11, 16, 0, 0, 6), { fix: "none", lat: null, lon: null, altM: null }));
    expect(t.state.now().timeSource).toBe("system");
    t.advance(1000);
    t.state.applyFix(fix(REAL));
    expect(t.state.now()).toEqual({ ts: new Date(REAL).toISOString(), timeSource: "gnss" });
    expect(t.state.gnssTime()).toMatchObject({ accepted: 1, refused: { "no-fix": 2 } });
  });

  it("corrects a GPS week-number rollover (1024 weeks behind) on a valid fix, and counts it", () => {
    const t = setup();
    t.state.applyFix(fix(REAL - GPS_WEEK_ROLLOVER_MS));
    expect(t.state.now()).toEqual({ ts: new Date(REAL).toISOString(), timeSource: "gnss" });
    expect(t.state.gnssTime().rolloversCorrected).toBe(1);
  });

  it("needs two agreeing fixes to jump further than gnssMaxJumpMs", () => {
    const t = setup({ gnssMaxJumpMs: 10_000 });
    t.state.applyFix(fix(REAL));
    t.advance(1000);
    const wrong = REAL + 86_400_000; // one valid-looking epoch a day ahead
    t.state.applyFix(fix(wrong));
    expect(t.state.now().ts).toBe(new Date(REAL + 1000).toISOString());
    expect(t.state.gnssTime().refused.jump).toBe(1);
    t.advance(1000);
    t.state.applyFix(fix(REAL + 2000)); // back on track: taken, and the lone jump is forgotten
    expect(t.state.now().ts).toBe(new Date(REAL + 2000).toISOString());
    // A real jump (the clock was wrong): two consecutive fixes agree on it.
    t.advance(1000);
    t.state.applyFix(fix(REAL + 3_600_000));
    expect(t.state.now().ts).toBe(new Date(REAL + 3000).toISOString());
    t.advance(1000);
    t.state.applyFix(fix(REAL + 3_601_000));
    expect(t.state.now().ts).toBe(new Date(REAL + 3_601_000).toISOString());
  });

  it("property: a gnss timestamp is never before the release floor, whatever the receiver prints", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            time: fc.option(fc.integer({ min: Date.UTC(1980, 0, 6), max: Date.UTC(2070, 0, 1) })),
            fix: fc.constantFrom("none" as const, "2d" as const, "3d" as const),
            gapMs: fc.integer({ min: 0, max: 5000 }),
          }),
          { maxLength: 30 },
        ),
        (epochs) => {
          const t = setup();
          for (const e of epochs) {
            t.advance(e.gapMs);
            t.state.applyFix(fix(e.time, { fix: e.fix }));
            const now = t.state.now();
            if (now.timeSource === "gnss") expect(Date.parse(now.ts)).toBeGreaterThanOrEqual(AGENT_NOT_BEFORE_MS);
          }
          const c = t.state.gnssTime();
          const offered = epochs.filter((e) => e.time !== null).length;
          expect(c.accepted + c.refused["no-fix"] + c.refused["implausible-date"] + c.refused.jump).toBe(offered);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: one wrong epoch among consistent ones never moves the clock", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 11_000, max: 10 * 365 * 86_400_000 }),
        fc.boolean(),
        (at, offset, ahead) => {
          const gnss = createGnssClock({ notBeforeMs: AGENT_NOT_BEFORE_MS, maxJumpMs: 10_000 });
          for (let i = 0; i < 25; i++) {
            const truth = REAL + i * 1000;
            const shown = i === at ? truth + (ahead ? offset : -offset) : truth;
            gnss.offer(fix(shown), 1_000 + i * 1000);
            const anchor = gnss.anchor()!;
            expect(anchor.wallMs - anchor.monoMs).toBe(REAL - 1_000);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("simulation time scale (clock.timeScale)", () => {
  // A simulator (or a replayed log) whose receiver time runs `scale` times faster than the monotonic clock.
  function run(timeScale: number) {
    let mono = 50_000;
    const base = { monoMs: () => mono, wallMs: () => SYSTEM + mono };
    const config = parseAgentConfig({
      truckId: "T1",
      broker: { url: "mqtt://h:1883" },
      outbox: { dir: "/tmp/x" },
      ...(timeScale === 1 ? {} : { clock: { timeScale } }),
    });
    const state = createVehicleState(config.state, {
      clock: scaledClock(base, config.clock.timeScale),
      onEvent: () => {},
    });
    return { state, advance: (ms: number) => (mono += ms) };
  }

  it("at 60x, a receiver whose time runs 60 s per wall second is trusted, and timestamps follow it", () => {
    const t = run(60);
    for (let i = 0; i < 10; i++) {
      t.state.applyFix(fix(REAL + i * 60_000));
      expect(t.state.now()).toEqual({ ts: new Date(REAL + i * 60_000).toISOString(), timeSource: "gnss" });
      t.advance(1000);
    }
    expect(t.state.gnssTime()).toMatchObject({ accepted: 10, refused: { jump: 0 } });
    // Between epochs the clock runs on at the same scale: half a wall second later is 30 simulated seconds later.
    t.advance(-500);
    expect(t.state.now().ts).toBe(new Date(REAL + 9 * 60_000 + 30_000).toISOString());
    // The guard still holds at the scale: one epoch a day ahead does not move the clock.
    t.state.applyFix(fix(REAL + 86_400_000));
    expect(t.state.gnssTime().refused.jump).toBe(1);
    expect(t.state.now().ts).toBe(new Date(REAL + 9 * 60_000 + 30_000).toISOString());
  });

  it("at the default 1x the same receiver is refused (a real truck's guard is unchanged)", () => {
    const t = run(1);
    for (let i = 0; i < 10; i++) {
      t.state.applyFix(fix(REAL + i * 60_000));
      t.advance(1000);
    }
    // Every second fix is a lone jump; the next one agrees with the monotonic clock no better.
    expect(t.state.gnssTime().accepted).toBe(1);
    expect(t.state.gnssTime().refused.jump).toBe(9);
  });

  it("is validated: default 1, a positive range, the field named", () => {
    const base = { truckId: "T1", broker: { url: "mqtt://h:1883" }, outbox: { dir: "/tmp/x" } };
    expect(parseAgentConfig(base).clock.timeScale).toBe(1);
    expect(() => parseAgentConfig({ ...base, clock: { timeScale: 0 } })).toThrow(/clock\.timeScale/);
    expect(() => parseAgentConfig({ ...base, clock: { timeScale: 100_000 } })).toThrow(/clock\.timeScale/);
    expect(() => parseAgentConfig({ ...base, clock: { timeScale: "60" } })).toThrow(/clock\.timeScale/);
  });
});

describe("positions", () => {
  it("a fix without a position never replaces a fresh position", () => {
    const t = setup();
    t.state.applyFix(fix(REAL, { lat: 48.1234567 }));
    t.advance(500);
    // The fragment a split epoch produced: fix 2d, time, no position.
    t.state.applyFix(fix(REAL + 500, { fix: "2d", lat: null, lon: null, altM: null }));
    expect(t.state.gps()).toMatchObject({ lat: 48.1234567, fix: "3d" });
    t.advance(6000); // the position is stale now: the receiver lost the fix
    t.state.applyFix(fix(REAL + 6500, { fix: "none", lat: null, lon: null, altM: null }));
    expect(t.state.gps()).toMatchObject({ fix: "none", lat: null });
  });
});
