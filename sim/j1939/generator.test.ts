import { describe, expect, it } from "vitest";
import type { TruckState } from "../model/state.ts";
import { createTruckModel } from "../model/truck.ts";
import { createTruckSim } from "../truck-sim.ts";
import { j1939Id } from "./frame.ts";
import { createJ1939Generator } from "./generator.ts";
import {
  encodeAmb,
  encodeCcvs1,
  encodeDd1,
  encodeDm1,
  encodeEec1,
  encodeEflp1,
  encodeEt1,
  encodeHours,
  encodeLfc1,
  encodeLfe1,
  encodeVdhr,
  PGN,
} from "./pgns.ts";

const pgnOf = (id: number) => {
  const pf = (id >> 16) & 0xff;
  return pf < 240 ? (id >> 8) & 0x3ff00 : (id >> 8) & 0x3ffff;
};

function state(overrides: Partial<TruckState>): TruckState {
  return { ...createTruckModel({ seed: "enc" }).state(), ...overrides };
}

describe("J1939 encoders (J1939-71 scalings)", () => {
  it("builds 29-bit ids from priority, PGN and source address (PDU2 and PDU1)", () => {
    expect(j1939Id(3, PGN.EEC1, 0)).toBe(0x0cf00400);
    expect(j1939Id(6, PGN.CCVS1, 0)).toBe(0x18fef100);
    expect(j1939Id(7, PGN.TP_CM, 0)).toBe(0x1cecff00);
  });

  it("encodes each parameter at its resolution and byte position", () => {
    const s = state({
      engineSpeedRpm: 1234.5,
      torquePct: 37,
      speedKmh: 80,
      parkingBrake: true,
      brakeSwitch: true,
      coolantTempC: 85,
      fuelLevelPct: 50,
      fuelRateLph: 25.5,
      engineHours: 12345.6,
      totalDistanceKm: 523456.78,
      totalFuelL: 160000.5,
      oilPressureKpa: 400,
      ambientTempC: 21.5,
    });
    const eec1 = encodeEec1(s);
    expect(eec1[2]).toBe(37 + 125);
    expect(eec1[3]! | (eec1[4]! << 8)).toBe(9876); // 1234.5 / 0.125
    const ccvs1 = encodeCcvs1(s);
    expect(ccvs1[1]! | (ccvs1[2]! << 8)).toBe(80 * 256);
    expect((ccvs1[0]! >> 2) & 3).toBe(1);
    expect((ccvs1[3]! >> 4) & 3).toBe(1);
    expect(encodeEt1(s)[0]).toBe(125);
    expect(encodeDd1(s)[1]).toBe(125);
    const lfe1 = encodeLfe1(s);
    expect(lfe1[0]! | (lfe1[1]! << 8)).toBe(510);
    expect(Buffer.from(encodeHours(s)).readUInt32LE(0)).toBe(246912);
    expect(Buffer.from(encodeVdhr(s)).readUInt32LE(0)).toBe(104691356);
    expect(Buffer.from(encodeLfc1(s)).readUInt32LE(4)).toBe(320001);
    expect(encodeEflp1(s)[3]).toBe(100);
    expect(Buffer.from(encodeAmb(s)).readUInt16LE(3)).toBe(9424);
  });

  it("encodes DM1 with lamp status and SPN/FMI/OC per J1939-73, an empty slot when no DTC is active", () => {
    expect([...encodeDm1([])]).toEqual([0, 0xff, 0, 0, 0, 0, 0xff, 0xff]);
    // SPN 3226 = 0x0C9A -> low 0x9A, mid 0x0C, high bits 0; FMI 2; OC 5.
    expect([...encodeDm1([{ spn: 3226, fmi: 2, oc: 5 }])]).toEqual([0x04, 0xff, 0x9a, 0x0c, 0x02, 0x05, 0xff, 0xff]);
    // SPN 520192 = 0x7F000: high 3 bits 0b111 in byte 5 bits 6-8.
    expect(encodeDm1([{ spn: 520192, fmi: 31, oc: 1 }])[4]).toBe(0xff);
  });
});

describe("J1939 generator", () => {
  it("puts each PGN on the bus at its rate while the ignition is on", () => {
    const sim = createTruckSim({ seed: "rates", eec1PeriodMs: 15, parkChance: 0 });
    const can = sim.advanceTo(10_000).can;
    const count = (pgn: number) => can.filter((f) => pgnOf(f.frame.id) === pgn).length;
    expect(Math.abs(count(PGN.EEC1) - 10_000 / 15)).toBeLessThanOrEqual(1);
    for (const pgn of [PGN.CCVS1, PGN.LFE1]) expect(count(pgn)).toBe(100);
    expect(count(PGN.EFLP1)).toBe(20);
    for (const pgn of [PGN.ET1, PGN.DD1, PGN.AMB, PGN.VDHR, PGN.HOURS, PGN.LFC1, PGN.DM1]) expect(count(pgn)).toBe(10);
    const eec1Times = can.filter((f) => pgnOf(f.frame.id) === PGN.EEC1).map((f) => f.tMs);
    for (let i = 1; i < eec1Times.length; i++) expect(eec1Times[i]! - eec1Times[i - 1]!).toBe(15);
    for (let i = 1; i < can.length; i++) expect(can[i]!.tMs).toBeGreaterThanOrEqual(can[i - 1]!.tMs);
  });

  it("picks an EEC1 period of 10-20 ms per truck from its seed", () => {
    for (const seed of ["a", "b", "c", "d"]) {
      const gen = createJ1939Generator({ seed });
      const s = state({ ignition: true });
      const frames = gen.framesUntil(s, 1000).filter((f) => pgnOf(f.frame.id) === PGN.EEC1);
      expect(frames.length).toBeGreaterThanOrEqual(50);
      expect(frames.length).toBeLessThanOrEqual(100);
    }
  });

  it("is silent while the ignition is off", () => {
    const gen = createJ1939Generator({ seed: "off" });
    expect(gen.framesUntil(state({ ignition: false }), 5000)).toEqual([]);
    expect(gen.framesUntil(state({ ignition: true }), 6000).length).toBeGreaterThan(50);
  });

  it("sends DM1 with several faults as a BAM session: TP.CM then TP.DT packets 50 ms apart", () => {
    const dtcs = [
      { spn: 110, fmi: 0, oc: 1 },
      { spn: 100, fmi: 1, oc: 2 },
      { spn: 3226, fmi: 2, oc: 3 },
    ];
    const gen = createJ1939Generator({ seed: "bam" });
    const frames = gen.framesUntil(state({ ignition: true, dtcs }), 2000);
    const cm = frames.filter((f) => f.frame.id === 0x1cecff00);
    const dt = frames.filter((f) => f.frame.id === 0x1cebff00);
    expect(cm.length).toBe(2);
    expect([...cm[0]!.frame.data]).toEqual([32, 14, 0, 2, 0xff, 0xca, 0xfe, 0x00]);
    expect(dt.length).toBe(4);
    expect(dt[0]!.tMs - cm[0]!.tMs).toBe(50);
    expect(dt[1]!.tMs - dt[0]!.tMs).toBe(50);
    const payload = [...dt[0]!.frame.data.slice(1), ...dt[1]!.frame.data.slice(1)].slice(0, 14);
    expect(payload).toEqual([...encodeDm1(dtcs)]);
    expect(frames.some((f) => pgnOf(f.frame.id) === PGN.DM1)).toBe(false);
  });
});
