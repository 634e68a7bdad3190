/**
 * The compiled validator (validate.ts) and zod must decide alike on every record, and give the same output (key
 * order included: it becomes the Kafka value). zod is the source of truth; this is what keeps the compiled rules
 * from drifting when records.ts changes or zod is upgraded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FleetError } from "../common/errors.ts";
import { encodeEvents, encodeTelemetry } from "./codec.ts";
import { buildSamples } from "./examples/samples.ts";
import { EventRecordSchema, StatusRecordSchema, TelemetryRecordSchema } from "./records.ts";
import { eventBatchArb, telemetryBatchArb } from "./testing/arbitraries.ts";
import { compileValidator, INVALID } from "./validate.ts";
import { decodeEventsBinary } from "./wire-events.ts";
import { decodeTelemetryBinary } from "./wire-telemetry.ts";

const SCHEMAS = {
  telemetry: TelemetryRecordSchema,
  events: EventRecordSchema,
  status: StatusRecordSchema,
} as const;
type Kind = keyof typeof SCHEMAS;
const VALIDATORS = {
  telemetry: compileValidator(TelemetryRecordSchema),
  events: compileValidator(EventRecordSchema),
  status: compileValidator(StatusRecordSchema),
};

/** Both decide alike; when both accept, the outputs are equal and serialise to the same bytes. */
function expectAgreement(kind: Kind, candidate: unknown): boolean {
  const zod = SCHEMAS[kind].safeParse(candidate);
  const fast = VALIDATORS[kind](candidate);
  const label = `${kind}: ${safeJson(candidate)}`;
  expect(fast !== INVALID, label).toBe(zod.success);
  if (zod.success) {
    expect(fast, label).toStrictEqual(zod.data);
    expect(JSON.stringify(fast), label).toBe(JSON.stringify(zod.data));
    expect(fast, "a copy, as zod's output is").not.toBe(candidate);
  }
  return zod.success;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
  } catch {
    return String(value);
  }
}

/** Values that sit on or just past a rule's edge, or are of the wrong kind. */
const TRICKY: unknown[] = [
  null,
  undefined,
  0,
  -0,
  1,
  -1,
  0.5,
  1e-8,
  90,
  90.0000001,
  -90.00000001,
  359.9,
  359.95,
  400.05,
  1.005,
  3212.75,
  3212.755,
  8032,
  8033,
  -125,
  -126,
  255,
  256,
  2047,
  2048,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  "",
  "1",
  "gnss",
  "3d",
  "raised",
  "gap",
  "ignition",
  "P0301",
  "p0301",
  "5f2c9a0e13b7d846",
  "5F2C9A0E13B7D846",
  "2026-03-14T09:26:53.000Z",
  "2026-03-14T09:26:53Z",
  "2026-02-29T00:00:00.000Z",
  "2026-03-14T09:26:53.000+01:00",
  "a".repeat(32),
  "a".repeat(33),
  "\u{1F69A}".repeat(32), // 64 UTF-16 units, 32 code points: zod 4.6 counts code points past the limit
  "\u{1F69A}".repeat(33),
  "\uD800",
  "ok\uDC00",
  "T".repeat(64),
  "T".repeat(65),
  "bad/id",
  true,
  false,
  [],
  [1],
  {},
  { spn: 1, fmi: 2, oc: 3 },
  { spn: 1, fmi: 2, oc: 3, extra: 1 },
];

/** Every path to a value inside a record (objects and arrays), the record itself as []. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

type Mutation = { path: number; action: "set" | "delete" | "extra" | "proto" | "wrap"; value: number };

function mutate(record: unknown, m: Mutation): unknown {
  const copy = structuredClone(record);
  const all = paths(copy);
  const path = all[m.path % all.length]!;
  if (path.length === 0) return m.action === "wrap" ? [copy] : copy;
  const parent = path.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as never, copy as never);
  const key = path[path.length - 1]!;
  switch (m.action) {
    case "set":
      parent[key] = TRICKY[m.value % TRICKY.length];
      break;
    case "delete":
      delete parent[key];
      break;
    case "extra":
      parent[`x${m.value % 3}`] = 1;
      break;
    case "proto":
      // JSON.parse makes "__proto__" an own key; zod's strict objects refuse it.
      Object.assign(parent, JSON.parse(`{"__proto__": ${m.value % 2}}`));
      break;
    case "wrap":
      parent[key] = [parent[key]];
      break;
  }
  return copy;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  path: fc.nat(),
  action: fc.constantFrom("set", "set", "set", "delete", "extra", "proto", "wrap"),
  value: fc.nat(),
});

describe("the compiled validator and zod agree", () => {
  it("on valid telemetry and event records (fast-check arbitraries)", () => {
    fc.assert(
      fc.property(telemetryBatchArb(4), (batch) => {
        for (const record of batch) expect(expectAgreement("telemetry", record)).toBe(true);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(eventBatchArb(4), (batch) => {
        for (const record of batch) expect(expectAgreement("events", record)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("on mutated records: wrong values, missing and unknown keys, __proto__, wrapped values", () => {
    let refused = 0;
    let runs = 0;
    const property = (kind: Kind) => (batch: unknown[], mutations: Mutation[]) => {
      let record = batch[0];
      for (const m of mutations) record = mutate(record, m);
      runs += 1;
      if (!expectAgreement(kind, record)) refused += 1;
    };
    fc.assert(
      fc.property(telemetryBatchArb(1), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), property("telemetry")),
      {
        numRuns: 3000,
      },
    );
    fc.assert(
      fc.property(eventBatchArb(1), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), property("events")),
      {
        numRuns: 3000,
      },
    );
    // The mutations must reach both verdicts often, or this test proves little.
    expect(refused).toBeGreaterThan(runs * 0.3);
    expect(refused).toBeLessThan(runs * 0.95);
  }, 120_000);

  it("on what the binary decoders make of mutated payloads", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          telemetryBatchArb(4).map((b) => ({
            kind: "telemetry" as const,
            truckId: b[0]!.truckId,
            bytes: encodeTelemetry(b),
          })),
          eventBatchArb(3).map((b) => ({ kind: "events" as const, truckId: b[0]!.truckId, bytes: encodeEvents(b) })),
        ),
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        ({ kind, truckId, bytes }, flips) => {
          const payload = Buffer.from(bytes);
          for (const f of flips) payload[1 + (f.at % (payload.length - 1))] = f.byte; // keep the format byte
          let candidates: unknown[];
          try {
            const version = payload[0] === 0x01 || payload[0] === 0x02 ? 1 : 2;
            candidates =
              kind === "telemetry"
                ? decodeTelemetryBinary(truckId, payload, version)
                : decodeEventsBinary(truckId, payload, version);
          } catch (error) {
            if (error instanceof FleetError) return;
            throw error;
          }
          for (const candidate of candidates) expectAgreement(kind, candidate);
        },
      ),
      { numRuns: 3000 },
    );
  }, 120_000);

  it("on the documented samples and on hand-picked edges of the refinements", () => {
    const [telemetrySample, eventSample] = buildSamples().map((s) => JSON.parse(String(s.message.value)));
    expect(expectAgreement("telemetry", telemetrySample)).toBe(true);
    expect(expectAgreement("events", eventSample)).toBe(true);
    const envelope = {
      truckId: "T1",
      stream: "5f2c9a0e13b7d846",
      seq: 1,
      ts: "2026-03-14T09:26:53.000Z",
      timeSource: "gnss",
    };
    const gap = {
      ...envelope,
      type: "gap",
      channel: "telemetry",
      fromSeq: 10,
      toSeq: 19,
      count: 10,
      reason: "outbox-full",
    };
    expect(expectAgreement("events", gap)).toBe(true);
    expect(expectAgreement("events", { ...gap, count: 9 })).toBe(false);
    expect(expectAgreement("events", { ...gap, toSeq: 9, count: 0 })).toBe(false);
    const start = { ...envelope, type: "start", agentVersion: "1.2.3", bootId: "b" };
    expect(expectAgreement("events", { ...start, agentVersion: "x\uD800" })).toBe(false);
    expect(expectAgreement("events", { ...start, agentVersion: "\u{1F69A}".repeat(32) })).toBe(true);
    expect(expectAgreement("events", { ...envelope, type: "nope" })).toBe(false);
    expect(expectAgreement("telemetry", { ...envelope, gps: { ...telemetrySample.gps, lat: 48.12345678 } })).toBe(
      false,
    );
    expect(expectAgreement("telemetry", { ...envelope, engine: { fuelRateLph: 1.005 } })).toBe(false);
    expect(expectAgreement("telemetry", { ...envelope, engine: { fuelRateLph: undefined } })).toBe(true);
    // Key order of the input does not leak into the output: zod's output follows the schema.
    const reordered = Object.fromEntries(Object.entries(telemetrySample).reverse());
    expect(expectAgreement("telemetry", reordered)).toBe(true);
    expect(JSON.stringify(VALIDATORS.telemetry(reordered))).toBe(JSON.stringify(telemetrySample));
    expect(
      expectAgreement("status", { truckId: "T1", state: "online", ts: envelope.ts, reason: "r".repeat(201) }),
    ).toBe(false);
  });
});

describe("compileValidator", () => {
  it("keeps zod's rules for numbers without bounds: NaN and infinities are not numbers", () => {
    const validate = compileValidator(z.object({ n: z.number() }).strict());
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "1"]) {
      expect(validate({ n })).toBe(INVALID);
    }
    expect(validate({ n: -0 })).toStrictEqual({ n: -0 });
  });

  it("refuses a schema it cannot check as zod would, instead of checking less", () => {
    expect(() => compileValidator(z.string().email())).toThrow(/string format email/);
    expect(() => compileValidator(z.union([z.string(), z.number()]))).toThrow(/without a discriminator/);
    expect(() => compileValidator(z.object({ a: z.string() }).passthrough())).toThrow(/catchall/);
    expect(() => compileValidator(z.number().multipleOf(2))).toThrow(/check multiple_of/);
    expect(() => compileValidator(z.string().transform((s) => s.length))).toThrow(/schema type pipe/);
  });
});
