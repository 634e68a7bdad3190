import { describe, expect, it } from "vitest";
import { engineRpmInGear, IDLE_RPM, MAX_RPM } from "./powertrain.ts";
import type { Phase, TruckState } from "./state.ts";
import { createTruckModel } from "./truck.ts";

/** Great-circle distance in km between two states (haversine). */
function distanceKm(a: TruckState, b: TruckState): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

function drive(seed: string, seconds: number, stepMs = 100, options = {}) {
  const model = createTruckModel({ seed, parkChance: 0.25, parkS: [10, 20], faultsPerHour: 0, ...options });
  const states = [model.state()];
  for (let t = 0; t < seconds * 1000; t += stepMs) states.push(model.step(stepMs));
  return states;
}

describe("truck model", () => {
  const states = drive("model-test", 40 * 60);

  it("is reproducible from its seed and differs between seeds", () => {
    const again = drive("model-test", 120);
    expect(again.at(-1)).toEqual(states[1200]);
    expect(drive("another", 120).at(-1)!.lat).not.toBe(states[1200]!.lat);
  });

  it("drives a route with pulling away, cruising, braking, stops, turns and parking", () => {
    const phases = new Set<Phase>(states.map((s) => s.phase));
    for (const p of ["idle", "accelerating", "cruising", "braking", "stopped", "turning", "parked"] as const) {
      expect(phases, p).toContain(p);
    }
    const courses = new Set(states.map((s) => Math.round(s.courseDeg / 45)));
    expect(courses.size).toBeGreaterThan(2);
  });

  it("derives engine speed from the gear and road speed, idle when stopped, zero when parked", () => {
    for (const s of states) {
      if (!s.engineRunning) {
        expect(s.engineSpeedRpm).toBe(0);
        continue;
      }
      if (s.gear === 0) expect(s.engineSpeedRpm).toBe(IDLE_RPM);
      const inGear = engineRpmInGear(s.gear, s.speedKmh / 3.6);
      if (s.gear > 0 && inGear >= IDLE_RPM) expect(s.engineSpeedRpm).toBeCloseTo(Math.min(inGear, MAX_RPM), 6);
      expect(s.engineSpeedRpm).toBeLessThanOrEqual(MAX_RPM);
    }
    const cruising = states.filter((s) => s.phase === "cruising" && s.speedKmh > 60);
    expect(cruising.length).toBeGreaterThan(0);
    for (const s of cruising) expect(s.gear).toBeGreaterThanOrEqual(9);
  });

  it("parks with the ignition off, the parking brake set and the truck still", () => {
    const parked = states.filter((s) => s.phase === "parked");
    expect(parked.length).toBeGreaterThan(0);
    for (const s of parked) {
      expect([s.ignition, s.engineRunning, s.parkingBrake, s.speedKmh, s.fuelRateLph]).toEqual([
        false,
        false,
        true,
        0,
        0,
      ]);
    }
  });

  it("burns fuel: the level falls by exactly the fuel used, and fuel rate is higher under load", () => {
    const first = states[0]!;
    const last = states.at(-1)!;
    const usedL = last.totalFuelL - first.totalFuelL;
    expect(usedL).toBeGreaterThan(5);
    expect(last.fuelLevelPct).toBeLessThan(first.fuelLevelPct);
    expect(((first.fuelLevelPct - last.fuelLevelPct) / 100) * 400).toBeCloseTo(usedL, 6);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const accel = mean(states.filter((s) => s.phase === "accelerating").map((s) => s.fuelRateLph));
    const idle = mean(states.filter((s) => s.phase === "stopped").map((s) => s.fuelRateLph));
    expect(accel).toBeGreaterThan(idle * 3);
  });

  it("advances the odometer by the distance driven and engine hours by the running time", () => {
    let travelled = 0;
    let runningS = 0;
    for (let i = 1; i < states.length; i++) {
      travelled += distanceKm(states[i - 1]!, states[i]!);
      if (states[i]!.engineRunning) runningS += 0.1;
    }
    const odo = states.at(-1)!.totalDistanceKm - states[0]!.totalDistanceKm;
    expect(odo).toBeGreaterThan(5);
    expect(Math.abs(odo - travelled) / odo).toBeLessThan(0.01);
    const hours = states.at(-1)!.engineHours - states[0]!.engineHours;
    expect(hours * 3600).toBeCloseTo(runningS, 0);
  });

  it("advances GNSS time with the simulation and keeps speeds plausible", () => {
    for (const s of states) {
      expect(s.timeMs - s.tMs).toBeCloseTo(states[0]!.timeMs, -1);
      expect(s.speedKmh).toBeGreaterThanOrEqual(0);
      expect(s.speedKmh).toBeLessThanOrEqual(95);
    }
  });

  it("keeps fixed trouble codes active and raises random ones at the configured rate", () => {
    const fixed = [
      { spn: 110, fmi: 0, oc: 3 },
      { spn: 100, fmi: 1, oc: 1 },
    ];
    const withFaults = drive("faulty", 60, 100, { faults: fixed });
    expect(withFaults.at(-1)!.dtcs).toEqual(fixed);
    const noisy = drive("noisy", 3600, 1000, { faultsPerHour: 30 });
    expect(noisy.some((s) => s.dtcs.length > 0)).toBe(true);
    expect(drive("quiet", 3600, 1000).every((s) => s.dtcs.length === 0)).toBe(true);
  });

  it("rejects invalid options, naming the field", () => {
    expect(() => createTruckModel({ seed: 1, cruiseKmh: [90, 40] })).toThrow(/cruiseKmh/);
  });
});
