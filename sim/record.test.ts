import { describe, expect, it } from "vitest";
import { decodeTelemetry, encodeTelemetry, TelemetryRecordSchema } from "../protocol/index.ts";
import { createTruckModel } from "./model/truck.ts";
import { telemetryRecord } from "./record.ts";

describe("sim telemetry records", () => {
  it("are valid protocol records that survive the binary and JSON codecs unchanged", () => {
    const model = createTruckModel({ seed: "records", faults: [{ spn: 110, fmi: 0, oc: 1 }], parkChance: 0.3 });
    const records = Array.from({ length: 300 }, (_, seq) =>
      telemetryRecord(model.step(1000), { truckId: "T-1", stream: "0123456789abcdef", seq }),
    );
    for (const r of records) expect(TelemetryRecordSchema.safeParse(r).success).toBe(true);
    expect(records.some((r) => r.engine === undefined)).toBe(true); // parked: ignition off, no engine data
    expect(records.some((r) => r.dtcs?.length === 1)).toBe(true);
    for (const format of ["binary", "json"] as const) {
      for (let i = 0; i < records.length; i += 50) {
        const batch = records.slice(i, i + 50);
        const decoded = decodeTelemetry("T-1", encodeTelemetry(batch, { format }));
        expect(decoded.ok && decoded.records).toEqual(batch);
      }
    }
  });

  it("carries the same speed as GPS speed and wheel speed, at the record's resolution", () => {
    const model = createTruckModel({ seed: "speed", parkChance: 0 });
    for (let i = 0; i < 200; i++) {
      const r = telemetryRecord(model.step(500), { truckId: "T", stream: "0123456789abcdef", seq: i });
      expect(r.engine?.wheelSpeedKmh).toBe(r.gps?.speedKmh);
    }
  });
});
