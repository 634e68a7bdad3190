import { describe, expect, it } from "vitest";
import type { EventRecord, TelemetryRecord } from "../../protocol/records.ts";
import type { Delivered } from "../runtime/types.ts";
import { csvField } from "./query.ts";
import { EVENT_COLUMNS, eventLine, TELEMETRY_COLUMNS, telemetryLine } from "./rows.ts";

const envelope = { truckId: "T1", stream: "00000000000000aa", seq: 7, ts: "2026-11-30T06:00:00.000Z" } as const;

function delivered<T>(record: T, receivedAt?: string): Delivered<T> {
  return {
    record,
    offset: "42",
    kafkaTimestamp: Date.UTC(2026, 10, 30, 6, 0, 1),
    ...(receivedAt ? { receivedAt } : {}),
  };
}

describe("COPY text lines", () => {
  it("telemetry: one cell per column, \\N for absent and null, booleans t/f, arrays and JSON", () => {
    const record: TelemetryRecord = {
      ...envelope,
      timeSource: "gnss",
      gps: { fix: "3d", lat: 48.1234567, lon: -11.5, altM: null, speedKmh: 52.3, courseDeg: 0, sats: 9, hdop: 0.8 },
      engine: { engineSpeedRpm: 1200, brakeSwitch: false, totalDistanceKm: 123456.789, fuelRateLph: null },
      dtcs: [{ spn: 110, fmi: 0, oc: 3 }],
      obdDtcs: ["P0301", "P0420"],
    };
    const cells = telemetryLine(delivered(record, "2026-11-30T06:00:00.150Z"), 3).slice(0, -1).split("\t");
    expect(cells).toHaveLength(TELEMETRY_COLUMNS.length);
    const at = (c: (typeof TELEMETRY_COLUMNS)[number]) => cells[TELEMETRY_COLUMNS.indexOf(c)];
    expect(at("lat")).toBe("48.1234567");
    expect(at("alt_m")).toBe("\\N");
    expect(at("fuel_rate_lph")).toBe("\\N"); // null: reported as not available
    expect(at("torque_pct")).toBe("\\N"); // absent: not reported by this truck
    expect(at("brake_switch")).toBe("f");
    expect(at("total_distance_km")).toBe("123456.789");
    expect(at("dtcs")).toBe('[{"spn":110,"fmi":0,"oc":3}]');
    expect(at("obd_dtcs")).toBe("{P0301,P0420}");
    expect(at("kafka_partition")).toBe("3");
    expect(at("kafka_offset")).toBe("42");
    expect(at("received_at")).toBe("2026-11-30T06:00:00.150Z");
  });

  it("events: details JSON escaped for the text format; the Kafka timestamp stands in without the header", () => {
    const record: EventRecord = {
      ...envelope,
      timeSource: "system",
      type: "start",
      agentVersion: "1.0\t\\beta",
      bootId: "line\nbreak\r",
    };
    const text = eventLine(delivered(record), 0);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.slice(0, -1)).not.toMatch(/\n|\r/);
    const cells = text.slice(0, -1).split("\t");
    expect(cells).toHaveLength(EVENT_COLUMNS.length);
    const details = cells[EVENT_COLUMNS.indexOf("details")]!;
    // COPY undoes the escapes: \\ -> \, \t -> tab, \n -> newline.
    const unescaped = details.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r" })[c] ?? c);
    expect(JSON.parse(unescaped)).toEqual({ agentVersion: "1.0\t\\beta", bootId: "line\nbreak\r" });
    expect(cells[EVENT_COLUMNS.indexOf("received_at")]).toBe("2026-11-30T06:00:01.000Z");
  });

  it("dtc events carry their code in columns of their own", () => {
    const record: EventRecord = {
      ...envelope,
      timeSource: "gnss",
      type: "dtc",
      change: "raised",
      dtc: { j1939: { spn: 100, fmi: 1, oc: 2 } },
    };
    const cells = eventLine(delivered(record), 0).slice(0, -1).split("\t");
    expect(cells[EVENT_COLUMNS.indexOf("dtc_spn")]).toBe("100");
    expect(cells[EVENT_COLUMNS.indexOf("dtc_fmi")]).toBe("1");
    expect(cells[EVENT_COLUMNS.indexOf("dtc_obd")]).toBe("\\N");
  });
});

describe("CSV fields (RFC 4180)", () => {
  it("quotes only what needs it", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('say "hi", ok')).toBe('"say ""hi"", ok"');
    expect(csvField(null)).toBe("");
    expect(csvField({ on: true })).toBe('"{""on"":true}"');
  });
});
