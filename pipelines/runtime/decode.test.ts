import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { buildSamples } from "../../protocol/examples/samples.ts";
import { buildJsonSchema } from "../../protocol/schema.ts";
import { eventBatchArb, telemetryBatchArb } from "../../protocol/testing/arbitraries.ts";
import { decodeKafkaValue } from "./decode.ts";
import type { RecordKind } from "./types.ts";

// The reference: the published schemas under the draft they name (decode.ts compiles them with the draft-07 class).
const reference = new Ajv2020({ strict: false, validateFormats: false });
const referenceOf = {
  telemetry: reference.compile(buildJsonSchema("telemetry.v1.schema.json")),
  events: reference.compile(buildJsonSchema("event.v1.schema.json")),
};

/** Sets `value` at one top-level or nested field of a copy of `record` (undefined: deletes it). */
function corrupt(record: object, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(record) as Record<string, unknown>;
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== "object" || at[key] === null) return copy;
    at = at[key] as Record<string, unknown>;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

const field = fc.constantFrom(
  ["truckId"],
  ["stream"],
  ["seq"],
  ["ts"],
  ["timeSource"],
  ["type"],
  ["gps"],
  ["gps", "lat"],
  ["gps", "fix"],
  ["gps", "sats"],
  ["engine", "engineSpeedRpm"],
  ["engine", "brakeSwitch"],
  ["dtcs"],
  ["on"],
  ["dtc", "j1939", "spn"],
);
const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 70 }),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
);

function agrees(kind: Exclude<RecordKind, "status" | "alerts" | "latest">, value: unknown): void {
  const outcome = decodeKafkaValue(kind, Buffer.from(JSON.stringify(value)));
  expect(outcome.ok, JSON.stringify(value)).toBe(referenceOf[kind](value));
  if (!outcome.ok) expect(isFleetError(outcome.error, "FLEET_RECORD_INVALID")).toBe(true);
}

describe("decodeKafkaValue", () => {
  it.each([
    ["telemetry", telemetryBatchArb(2)],
    ["events", eventBatchArb(2)],
  ] as const)(
    "decides like the published 2020-12 schema on %s records and on ones with a field broken",
    (kind, arb) => {
      fc.assert(
        fc.property(arb as fc.Arbitrary<object[]>, field, junk, (batch, path, value) => {
          for (const record of batch) {
            agrees(kind, record);
            agrees(kind, corrupt(record, path, value));
          }
        }),
        { numRuns: 300 },
      );
    },
  );

  it("names what is wrong with a value that is not a record", () => {
    const tombstone = decodeKafkaValue("telemetry", null);
    expect(!tombstone.ok && tombstone.error.message).toMatch(/tombstone/);
    const text = decodeKafkaValue("events", Buffer.from("not json"));
    expect(!text.ok && text.error.message).toMatch(/not JSON/);
    const shape = decodeKafkaValue("telemetry", Buffer.from(JSON.stringify({ truckId: "T1" })));
    expect(!shape.ok && shape.error.message).toMatch(/not a valid telemetry record: .*stream/);
  });

  it("decodes the alerts the detect pipeline writes, and names what is wrong with a bad one", () => {
    // The alert schema has union-typed evidence values, which Ajv's strict mode refused to compile (the map crashed).
    const sample = buildSamples().find((s) => s.name === "alerts")!;
    const good = decodeKafkaValue("alerts", Buffer.from(sample.message.value as string));
    expect(good.ok && good.record.detector).toBe("idling");
    const bad = decodeKafkaValue(
      "alerts",
      Buffer.from(JSON.stringify({ ...JSON.parse(sample.message.value as string), state: "x" })),
    );
    expect(!bad.ok && bad.error.message).toMatch(/not a valid alerts record: \/state/);
  });
});
