import { parseNmeaSentence } from "nmea-simple";
import { describe, expect, it } from "vitest";
import { createNmeaAssembler } from "../../agent/decoders/nmea/index.ts";
import type { GpsFix } from "../../agent/decoders/index.ts";
import { createTruckSim } from "../truck-sim.ts";
import { nmeaChecksum, nmeaSentences } from "./writer.ts";

describe("NMEA writer", () => {
  it("computes the NMEA 0183 checksum (XOR between $ and *)", () => {
    // The textbook GGA example from the NMEA reference manuals.
    expect(nmeaChecksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")).toBe("47");
  });

  it("writes GGA, RMC, GSA and VTG with valid checksums that nmea-simple parses", () => {
    const sim = createTruckSim({ seed: "nmea", nmeaHz: 1 });
    const out = sim.advanceTo(120_000);
    expect(out.nmea.length).toBe(120);
    for (const epoch of out.nmea) {
      expect(epoch.sentences.map((s) => s.slice(3, 6))).toEqual(["GGA", "RMC", "GSA", "VTG"]);
      for (const sentence of epoch.sentences) {
        const [body, sum] = sentence.slice(1).split("*");
        expect(nmeaChecksum(body!)).toBe(sum);
        expect(() => parseNmeaSentence(sentence)).not.toThrow();
      }
    }
  });

  it("round-trips through the agent's epoch assembler: position, speed, course, time advancing 1 s per epoch", () => {
    const sim = createTruckSim({ seed: "nmea-agent", nmeaHz: 1, startTimeMs: Date.UTC(2026, 2, 1, 23, 59, 0) });
    const assembler = createNmeaAssembler();
    const fixes: GpsFix[] = [];
    const truth: { lat: number; lon: number; speedKmh: number; courseDeg: number; timeMs: number }[] = [];
    // Step one epoch at a time so each fix can be compared with the state it was written from.
    for (let t = 1000; t <= 180_000; t += 1000) {
      const out = sim.advanceTo(t);
      for (const epoch of out.nmea) for (const s of epoch.sentences) fixes.push(...assembler.feed(s));
      truth.push({ ...out.state });
    }
    fixes.push(...assembler.flush());
    expect(assembler.counters().badChecksum).toBe(0);
    expect(fixes.length).toBe(truth.length);
    fixes.forEach((fix, i) => {
      const s = truth[i]!;
      expect(fix.fix).toBe("3d");
      expect(fix.lat!).toBeCloseTo(s.lat, 6);
      expect(fix.lon!).toBeCloseTo(s.lon, 6);
      expect(Math.abs(fix.speedKmh! - s.speedKmh)).toBeLessThan(0.02);
      expect(fix.time).toBe(new Date(s.timeMs).toISOString());
    });
    // Crosses midnight: the date field rolls over too.
    expect(fixes.at(-1)!.time!.startsWith("2026-03-02")).toBe(true);
    expect(new Set(fixes.map((f) => f.speedKmh)).size).toBeGreaterThan(10);
  });

  it("writes 10 epochs per second at 10 Hz, on the tenths of a second", () => {
    const sim = createTruckSim({ seed: "fast", nmeaHz: 10 });
    const out = sim.advanceTo(5000);
    expect(out.nmea.length).toBe(50);
    const times = out.nmea.map((e) => e.sentences[0]!.split(",")[1]!);
    expect(new Set(times).size).toBe(50);
    for (const t of times) expect(t).toMatch(/^\d{6}\.\d0$/);
  });

  it("uses the talker id it is given and marks a lost fix as void", () => {
    const sim = createTruckSim({ seed: "gn", talker: "GN" });
    const state = sim.advanceTo(1000).state;
    expect(nmeaSentences(state, { talker: "GN" })[0]).toMatch(/^\$GNGGA,/);
    const lost = nmeaSentences({ ...state, gnss: { ...state.gnss, fix: "none" } });
    expect(lost[1]).toMatch(/^\$GPRMC,[\d.]+,V,,,,,/);
  });
});
