/**
 * Several ECUs on one bus (issue 15.1): the same signal and DM1 from more than one source address. Driven through
 * the J1939 decoder with real frame bytes, then the state and the sampler as the agent wires them.
 */
import { describe, expect, it } from "vitest";
import { EventRecordSchema, TelemetryRecordSchema } from "../../protocol/index.ts";
import { createJ1939Decoder } from "../decoders/j1939/decoder.ts";
import type { EventBody, TelemetryBody } from "../../protocol/index.ts";
import { SamplerConfigSchema } from "../sampler/config.ts";
import { createSampler } from "../sampler/sampler.ts";
import { StateConfigSchema } from "./config.ts";
import { createVehicleState } from "./state.ts";

const VD = 0xfee0;
const DM1 = 0xfeca;
const EEC1 = 0xf004;

function frameId(pgn: number, sa: number, priority = 6): number {
  return ((priority << 26) | (pgn << 8) | sa) >>> 0;
}

/** VD: SPN 245 total vehicle distance, bytes 5-8, 0.125 km/bit. */
function vd(km: number): Uint8Array {
  const raw = Math.round(km / 0.125);
  return Uint8Array.from([0xff, 0xff, 0xff, 0xff, raw & 0xff, (raw >> 8) & 0xff, (raw >> 16) & 0xff, raw >>> 24]);
}

/** A single-frame DM1 (at most one DTC, or none: the all-zero code). */
function dm1(code?: { spn: number; fmi: number; oc: number }): Uint8Array {
  if (!code) return Uint8Array.from([0x00, 0xff, 0, 0, 0, 0, 0xff, 0xff]);
  const { spn, fmi, oc } = code;
  return Uint8Array.from([0x04, 0xff, spn & 0xff, (spn >> 8) & 0xff, ((spn >> 11) & 0xe0) | fmi, oc, 0xff, 0xff]);
}

/** DM1 data for any number of codes (J1939-73 §5.7.1: lamps, then 4 bytes per code). */
function dm1Data(codes: { spn: number; fmi: number; oc: number }[]): Uint8Array {
  const out = [0x04, 0xff];
  for (const { spn, fmi, oc } of codes) out.push(spn & 0xff, (spn >> 8) & 0xff, ((spn >> 11) & 0xe0) | fmi, oc);
  return Uint8Array.from(out);
}

function eec1(rpm: number): Uint8Array {
  const raw = Math.round(rpm / 0.125);
  return Uint8Array.from([0xff, 0xff, 125, raw & 0xff, raw >> 8, 0xff, 0xff, 0xff]);
}

function setup(state: Record<string, unknown> = {}) {
  let mono = 1_000_000;
  const clock = { monoMs: () => mono, wallMs: () => Date.UTC(2030, 0, 1) + mono };
  const records: TelemetryBody[] = [];
  const events: EventBody[] = [];
  const vehicle = createVehicleState(StateConfigSchema.parse(state), { clock, onEvent: (e) => events.push(e) });
  const sampler = createSampler(SamplerConfigSchema.parse({ minIntervalMs: 0, parkedPeriodMs: 0 }), {
    state: vehicle,
    clock,
    onRecord: (r) => records.push(r),
  });
  const decoder = createJ1939Decoder();
  const send = (pgn: number, sa: number, data: Uint8Array) => {
    const m = decoder.decode({ ts: null, id: frameId(pgn, sa), extended: true, rtr: false, data });
    if (m) vehicle.applyMessage(m);
  };
  /** A broadcast (BAM, J1939-21 §5.10.3) of a message longer than 8 bytes: TP.CM then TP.DT packets. */
  const bam = (pgn: number, sa: number, data: Uint8Array) => {
    const packets = Math.ceil(data.length / 7);
    send(
      0xecff,
      sa,
      Uint8Array.from([
        0x20,
        data.length & 0xff,
        data.length >> 8,
        packets,
        0xff,
        pgn & 0xff,
        (pgn >> 8) & 0xff,
        pgn >> 16,
      ]),
    );
    for (let p = 0; p < packets; p++) {
      const chunk = Array.from({ length: 7 }, (_, i) => data[p * 7 + i] ?? 0xff);
      send(0xebff, sa, Uint8Array.from([p + 1, ...chunk]));
    }
  };
  return { vehicle, sampler, records, events, send, bam, advance: (ms: number) => (mono += ms) };
}

const ENVELOPE = { truckId: "T", stream: "0123456789abcdef", seq: 0 };

describe("several ECUs on one bus", () => {
  it("takes the odometer from one source: the dashboard's (SA 23) by default, never flipping", () => {
    const t = setup();
    for (let s = 0; s < 30; s++) {
      // The engine (SA 0) and the instrument cluster (SA 23) disagree by 10 km, as on a real truck.
      t.send(VD, 0, vd(1000 + s * 0.02));
      t.send(EEC1, 0, eec1(650));
      t.advance(400);
      t.sampler.evaluate();
      t.send(VD, 23, vd(1010 + s * 0.02));
      t.advance(600);
      t.sampler.evaluate();
    }
    const odo = t.records.map((r) => r.engine?.totalDistanceKm).filter((v) => v !== undefined);
    expect(odo.length).toBeGreaterThan(20);
    expect(odo.every((v) => v! >= 1010)).toBe(true);
    for (let i = 1; i < odo.length; i++) expect(odo[i]!).toBeGreaterThanOrEqual(odo[i - 1]!);
    expect(t.records.at(-1)!.engine?.engineSpeedRpm).toBe(650);
    for (const r of t.records) expect(TelemetryRecordSchema.safeParse({ ...ENVELOPE, ...r }).success).toBe(true);
  });

  it("takes VDHR's 5 m odometer over VD's 125 m one when the same ECU sends both", () => {
    const t = setup();
    const vdhr = (km: number) => {
      const raw = Math.round(km / 0.005);
      return Uint8Array.from([raw & 0xff, (raw >> 8) & 0xff, (raw >> 16) & 0xff, raw >>> 24, 0xff, 0xff, 0xff, 0xff]);
    };
    for (let s = 0; s < 10; s++) {
      t.send(0xfec1, 23, vdhr(1010.06 + s * 0.01));
      t.sampler.evaluate();
      t.advance(500);
      t.send(VD, 23, vd(1010 + s * 0.01));
      t.sampler.evaluate();
      t.advance(500);
    }
    const odo = t.records.map((r) => r.engine?.totalDistanceKm).filter((v) => v !== undefined);
    for (let i = 1; i < odo.length; i++) expect(odo[i]!).toBeGreaterThanOrEqual(odo[i - 1]!);
  });

  it("follows the configured preference, and says so with an event when the chosen source falls silent", () => {
    const t = setup({ sources: { totalDistanceKm: [0] } });
    for (let s = 0; s < 5; s++) {
      t.send(VD, 0, vd(1000));
      t.send(VD, 23, vd(1010));
      t.advance(1000);
      t.sampler.evaluate();
    }
    expect(t.records.at(-1)!.engine?.totalDistanceKm).toBe(1000);
    // The engine stops sending VD: after the stale time the cluster's odometer is used, announced by an event.
    for (let s = 0; s < 15; s++) {
      t.send(VD, 23, vd(1010));
      t.advance(1000);
      t.sampler.evaluate();
    }
    expect(t.records.at(-1)!.engine?.totalDistanceKm).toBe(1010);
    const sourceEvents = t.events.filter((e) => e.type === "source");
    expect(sourceEvents).toMatchObject([{ type: "source", signal: "totalDistanceKm", from: 0, to: 23 }]);
    for (const e of sourceEvents) expect(EventRecordSchema.safeParse({ ...ENVELOPE, ...e }).success).toBe(true);
    // No record between the two sources' values without that event before it.
    const switchedAt = t.events.indexOf(sourceEvents[0]!);
    expect(switchedAt).toBeGreaterThan(-1);
  });

  it("keys trouble codes by source address: empty DM1s from other ECUs clear nothing", () => {
    const t = setup();
    const codes = [
      { spn: 100, fmi: 1, oc: 3 },
      { spn: 110, fmi: 16, oc: 1 },
      { spn: 3226, fmi: 4, oc: 2 },
    ];
    for (let s = 0; s < 30; s++) {
      // SA 0 reports three active codes every second (a multi-packet DM1 over BAM), while SA 3 (transmission)
      // and SA 49 (cab controller) send their empty DM1 every second too: the real capture's 94 raise/clear pairs.
      t.bam(DM1, 0, dm1Data(codes));
      t.send(EEC1, 0, eec1(650));
      t.send(DM1, 3, dm1());
      t.advance(300);
      t.send(DM1, 49, dm1());
      t.advance(700);
      t.sampler.evaluate();
    }
    const summary = t.events.flatMap((e) =>
      e.type === "dtc" ? [`${e.change}:${e.dtc.j1939?.sa}:${e.dtc.j1939?.spn}/${e.dtc.j1939?.fmi}`] : [],
    );
    expect(summary).toEqual(["raised:0:100/1", "raised:0:110/16", "raised:0:3226/4"]);
    expect(t.records.at(-1)!.dtcs).toEqual(codes.map((c) => ({ sa: 0, ...c })));
    for (const e of t.events) expect(EventRecordSchema.safeParse({ ...ENVELOPE, ...e }).success).toBe(true);
    for (const r of t.records) expect(TelemetryRecordSchema.safeParse({ ...ENVELOPE, ...r }).success).toBe(true);
  });

  it("raises each code of a steady DM1 once, with its source address, and clears it only from its own ECU", () => {
    const t = setup();
    for (let s = 0; s < 30; s++) {
      t.send(DM1, 0, dm1({ spn: 100, fmi: 1, oc: 3 }));
      t.send(EEC1, 0, eec1(650));
      t.send(DM1, 3, dm1({ spn: 524, fmi: 2, oc: 1 }));
      t.advance(300);
      t.send(DM1, 49, dm1());
      t.advance(700);
      t.sampler.evaluate();
    }
    const summary = () =>
      t.events.flatMap((e) => (e.type === "dtc" ? [`${e.change}:${e.dtc.j1939?.sa}:${e.dtc.j1939?.spn}`] : []));
    expect(summary()).toEqual(["raised:0:100", "raised:3:524"]);
    expect(t.records.at(-1)!.dtcs).toEqual([
      { sa: 0, spn: 100, fmi: 1, oc: 3 },
      { sa: 3, spn: 524, fmi: 2, oc: 1 },
    ]);
    // SA 3 reports no code any more: only its code is cleared.
    for (let s = 0; s < 5; s++) {
      t.send(DM1, 0, dm1({ spn: 100, fmi: 1, oc: 3 }));
      t.send(EEC1, 0, eec1(650));
      t.send(DM1, 3, dm1());
      t.advance(1000);
      t.sampler.evaluate();
    }
    expect(summary()).toEqual(["raised:0:100", "raised:3:524", "cleared:3:524"]);
    expect(t.records.at(-1)!.dtcs).toEqual([{ sa: 0, spn: 100, fmi: 1, oc: 3 }]);
  });

  it("makes no event pair of a code raised and cleared within the same second", () => {
    const t = setup();
    t.send(DM1, 0, dm1());
    t.advance(200);
    t.send(DM1, 0, dm1({ spn: 100, fmi: 1, oc: 1 }));
    t.advance(300);
    t.send(DM1, 0, dm1());
    for (let s = 0; s < 5; s++) {
      t.advance(1000);
      t.send(DM1, 0, dm1());
      t.sampler.evaluate();
    }
    expect(t.events.filter((e) => e.type === "dtc")).toEqual([]);
  });
});
