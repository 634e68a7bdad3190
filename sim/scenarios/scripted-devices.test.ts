import { describe, expect, it } from "vitest";
import { PGN } from "../j1939/pgns.ts";
import { SCENARIOS } from "./scenarios.ts";
import { createScriptedDevices } from "./scripted-devices.ts";

const START = Date.UTC(2026, 10, 30, 8, 0, 0);
const pgnOf = (id: number) => (id >> 8) & 0x3ffff;

describe("scripted scenario devices", () => {
  it("dtc: NMEA each simulated second on the scenario's clock; DM1 lists the code while raised; the bus is silent parked", () => {
    const devices = createScriptedDevices(SCENARIOS.dtc, { startTimeMs: START, start: { lat: 50, lon: 3 } });
    const first = devices.advanceTo(60_000);
    expect(first.nmea).toHaveLength(61);
    expect(first.nmea.at(-1)!.sentences.join()).toContain("080100.00"); // 08:01:00 UTC, a simulated minute on
    expect(devices.state().dtcs).toEqual([]);
    devices.advanceTo(3 * 60_000);
    expect(devices.state().dtcs).toEqual([{ spn: 110, fmi: 0, oc: 1 }]);
    expect(devices.state().speedKmh).toBe(60);
    const cleared = devices.advanceTo(7 * 60_000 - 1000);
    expect(devices.state().dtcs).toEqual([]);
    const dm1 = cleared.can.filter((f) => pgnOf(f.frame.id) === PGN.DM1);
    expect(dm1.length).toBeGreaterThan(0);
    const parked = devices.advanceTo(8 * 60_000);
    expect(devices.state().ignition).toBe(false);
    expect(parked.can.filter((f) => f.tMs > 7 * 60_000)).toEqual([]);
    expect(parked.nmea.length).toBe(61);
  });

  it("geofence: drives north at the scripted speed (8 min at 60 km/h is 8 km)", () => {
    const devices = createScriptedDevices(SCENARIOS.geofence, { startTimeMs: START, start: { lat: 50, lon: 3 } });
    devices.advanceTo(8 * 60_000);
    const km = ((devices.state().lat - 50) * Math.PI * 6_371) / 180;
    expect(km).toBeCloseTo(8, 2);
    expect(devices.state().lon).toBe(3);
  });

  it("siphon: no fuel level (DD1) with the ignition off, as on a J1939 bus; the drop shows at the next start", () => {
    const devices = createScriptedDevices(SCENARIOS.siphon, { startTimeMs: START, start: { lat: 50, lon: 3 } });
    const level = (out: ReturnType<typeof devices.advanceTo>) =>
      out.can.filter((f) => pgnOf(f.frame.id) === PGN.DD1).map((f) => f.frame.data[1]! * 0.4); // SPN 96, 0.4 %/bit
    expect(level(devices.advanceTo(2 * 60_000 - 1000)).at(-1)).toBeCloseTo(60, 0);
    // Parked 11 min while 12 points go: the bus says nothing.
    const parked = devices.advanceTo(13 * 60_000 - 1000);
    expect(devices.state().ignition).toBe(false);
    expect(parked.can).toEqual([]);
    expect(parked.nmea.length).toBeGreaterThan(600);
    const started = level(devices.advanceTo(14 * 60_000 - 1000));
    expect(started[0]).toBeCloseTo(48, 0);
    expect(devices.state().speedKmh).toBe(0);
  });
});
