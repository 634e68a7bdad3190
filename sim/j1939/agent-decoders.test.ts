/**
 * The sim's J1939 traffic, encoded as each line format the agent reads, decoded by the agent's own decoders:
 * every signal comes back as the simulated value within the bus resolution, and multi-packet DM1 reassembles.
 */
import { describe, expect, it } from "vitest";
import { createCanDecoder, type EngineSignals, type J1939Message } from "../../agent/decoders/index.ts";
import { candumpLine, elmMonitorLine, slcanLine } from "../lines/encoders.ts";
import type { TruckState } from "../model/state.ts";
import { createTruckSim } from "../truck-sim.ts";
import type { TimedFrame } from "./frame.ts";

const encoders = {
  slcan: (f: TimedFrame) => slcanLine(f.frame, f.tMs).replace(/\r$/, ""),
  elm327: (f: TimedFrame) => elmMonitorLine(f.frame, { headers: true, spaces: true, dlc: false }),
  candump: (f: TimedFrame) => candumpLine(f.frame, 1_767_600_000 + f.tMs / 1000, "can0"),
} as const;

/** Bus resolution per signal (J1939-71), the tolerance of a round trip. */
const RESOLUTION: Record<string, number> = {
  engineSpeedRpm: 0.125,
  torquePct: 1,
  wheelSpeedKmh: 1 / 256,
  coolantTempC: 1,
  fuelLevelPct: 0.4,
  fuelRateLph: 0.05,
  engineHours: 0.05,
  totalDistanceKm: 0.005,
  totalFuelL: 0.5,
  oilPressureKpa: 4,
  ambientTempC: 0.03125,
};

function truth(s: TruckState): Record<string, number | boolean> {
  return {
    engineSpeedRpm: s.engineSpeedRpm,
    torquePct: s.torquePct,
    wheelSpeedKmh: s.speedKmh,
    brakeSwitch: s.brakeSwitch,
    parkingBrake: s.parkingBrake,
    coolantTempC: s.coolantTempC,
    fuelLevelPct: s.fuelLevelPct,
    fuelRateLph: s.fuelRateLph,
    engineHours: s.engineHours,
    totalDistanceKm: s.totalDistanceKm,
    totalFuelL: s.totalFuelL,
    oilPressureKpa: s.oilPressureKpa,
    ambientTempC: s.ambientTempC,
  };
}

describe.each(Object.keys(encoders) as (keyof typeof encoders)[])("the agent's %s decoder reads the sim", (format) => {
  it("gets back every simulated engine value, step by step over a drive", () => {
    const sim = createTruckSim({ seed: `decode-${format}`, parkChance: 0, faultsPerHour: 0 });
    const decoder = createCanDecoder(format);
    const seen = new Set<string>();
    let compared = 0;
    // Advance one 10 ms step at a time: the frames of a step were encoded from that step's state.
    for (let t = 10; t <= 120_000; t += 10) {
      const out = sim.advanceTo(t);
      const expected = truth(out.state);
      for (const f of out.can) {
        const message = decoder.feed(encoders[format](f));
        if (message?.kind !== "j1939") continue;
        seen.add(message.name);
        for (const [name, value] of Object.entries(message.signals as EngineSignals)) {
          if (name === "dtcs" || !(name in expected)) continue;
          compared++;
          const want = expected[name]!;
          if (typeof want === "boolean") expect(value, name).toBe(want);
          else
            expect(Math.abs((value as number) - want), `${name} ${value} vs ${want}`).toBeLessThanOrEqual(
              RESOLUTION[name]! / 2 + 1e-9,
            );
        }
      }
    }
    expect([...seen].sort()).toEqual(
      ["AMB", "CCVS1", "DM1", "EEC1", "EFL/P1", "ET1", "DD1", "HOURS", "LFC1", "LFE1", "VDHR"].sort(),
    );
    expect(compared).toBeGreaterThan(10_000);
    expect(decoder.counters().invalid).toBe(0);
  });

  it("reassembles a multi-packet DM1 (BAM) into the simulated trouble codes", () => {
    const faults = [
      { spn: 110, fmi: 0, oc: 2 },
      { spn: 100, fmi: 1, oc: 1 },
      { spn: 520192, fmi: 31, oc: 7 },
    ];
    const sim = createTruckSim({ seed: `dm1-${format}`, faults, faultsPerHour: 0 });
    const decoder = createCanDecoder(format);
    const dm1: J1939Message[] = [];
    for (const f of sim.advanceTo(3000).can) {
      const m = decoder.feed(encoders[format](f));
      if (m?.kind === "j1939" && m.name === "DM1") dm1.push(m);
    }
    expect(dm1.length).toBeGreaterThanOrEqual(2);
    for (const m of dm1) expect(m.signals.dtcs).toEqual(faults);
  });
});
