import { describe, expect, it } from "vitest";
import { EngineSchema, GpsSchema, roundTo } from "../../protocol/index.ts";
import { ENGINE_SPECS, fitToSpec, GPS_SPECS, toGps } from "./rounding.ts";

/** The table in rounding.ts mirrors protocol/records.ts; these checks fail the moment the two disagree. */
describe("record rounding table", () => {
  const cases = [
    ...Object.entries(ENGINE_SPECS).map(([k, s]) => ({ schema: EngineSchema, key: k, spec: s })),
    ...Object.entries(GPS_SPECS).map(([k, s]) => ({ schema: GpsSchema, key: k, spec: s })),
  ];
  for (const { schema, key, spec } of cases) {
    it(`${key}: the schema accepts the table's range and resolution and refuses just outside it`, () => {
      const field = (schema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[key]!;
      const step = 10 ** -spec.decimals;
      expect(field.safeParse(spec.min).success).toBe(true);
      expect(field.safeParse(spec.max).success).toBe(true);
      expect(field.safeParse(roundTo(spec.min + step, spec.decimals)).success).toBe(true);
      expect(field.safeParse(roundTo(spec.max + step, spec.decimals)).success).toBe(false);
      expect(field.safeParse(roundTo(spec.min - step, spec.decimals)).success).toBe(false);
      // One more decimal than the resolution is refused, so the table's resolution is the schema's.
      if (spec.decimals < 7) expect(field.safeParse(spec.min + step / 10).success).toBe(false);
      expect(fitToSpec(spec.max + step, spec)).toBeNull();
    });
  }

  it("turns a course that rounds to 360.0 into 0.0 and out-of-range values into null, never a clamped number", () => {
    const g = toGps({
      time: null,
      fix: "3d",
      lat: 91,
      lon: 13.4,
      altM: 1,
      speedKmh: 10,
      courseDeg: 359.97,
      sats: 300,
      hdop: 0.94,
      pdop: null,
    });
    expect(g).toMatchObject({ lat: null, lon: 13.4, courseDeg: 0, sats: null, hdop: 0.9 });
    expect(GpsSchema.safeParse(g).success).toBe(true);
  });
});
