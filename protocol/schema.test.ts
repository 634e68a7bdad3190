import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FleetError } from "../common/errors.ts";
import { encodeConfirmReply } from "./confirm.ts";
import { fillSamples } from "./examples/samples.ts";
import { toDeadLetterMessage, toEventMessage, toStatusMessage, toTelemetryMessage } from "./kafka.ts";
import type { StatusRecord } from "./records.ts";
import { buildJsonSchema, PUBLISHED_SCHEMAS, type PublishedSchemaFile } from "./schema.ts";
import { eventBatchArb, telemetryBatchArb, truckIdArb } from "./testing/arbitraries.ts";

// ajv-formats is CommonJS; under ESM its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const FILES = Object.keys(PUBLISHED_SCHEMAS) as PublishedSchemaFile[];

function committed(file: PublishedSchemaFile): unknown {
  return JSON.parse(readFileSync(new URL(`./schema/${file}`, import.meta.url), "utf8"));
}

const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
const validators = Object.fromEntries(FILES.map((file) => [file, ajv.compile(committed(file) as object)]));

function expectValid(file: PublishedSchemaFile, value: unknown): void {
  const validate = validators[file]!;
  if (!validate(value)) {
    throw new Error(`${file}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }
}

const meta = { mqttTopic: "fleetsync/v1/TRK-1/telemetry", receivedAt: new Date("2026-03-14T09:26:54.120Z") };

describe("published JSON Schemas", () => {
  it.each(FILES)("protocol/schema/%s is up to date (else run `npm run schema`)", (file) => {
    expect(committed(file), `protocol/schema/${file} is stale: run npm run schema`).toEqual(buildJsonSchema(file));
  });

  it("docs/kafka-contract.md carries the current sample messages (else run `npm run schema`)", () => {
    const doc = readFileSync(new URL("../docs/kafka-contract.md", import.meta.url), "utf8");
    expect(fillSamples(doc) === doc, "docs/kafka-contract.md samples are stale: run npm run schema").toBe(true);
  });

  it("rejects what the zod schema rejects (the check below is not vacuous)", () => {
    const record = fc.sample(telemetryBatchArb(1), 1)[0]![0]!;
    const bad = {
      ...record,
      seq: -1,
      gps: { fix: "3d", lat: 91, lon: 0, altM: 0, speedKmh: 0, courseDeg: 0, sats: 1, hdop: 1 },
    };
    expect(validators["telemetry.v1.schema.json"]!(bad)).toBe(false);
    expect(validators["telemetry.v1.schema.json"]!({ ...record, ts: "2026-02-30T00:00:00.000Z" })).toBe(false);
    expect(validators["event.v1.schema.json"]!({ ...record, type: "ignition" })).toBe(false);
  });

  it("every telemetry message value and its headers validate", () => {
    fc.assert(
      fc.property(telemetryBatchArb(4), (batch) => {
        for (const record of batch) {
          const message = toTelemetryMessage(record, meta);
          expectValid("telemetry.v1.schema.json", JSON.parse(message.value as string));
          expectValid("record-headers.v1.schema.json", message.headers);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("every event message value and its headers validate", () => {
    fc.assert(
      fc.property(eventBatchArb(4), (batch) => {
        for (const record of batch) {
          const message = toEventMessage(record, meta);
          expectValid("event.v1.schema.json", JSON.parse(message.value as string));
          expectValid("record-headers.v1.schema.json", message.headers);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("every status message value and its headers validate", () => {
    const statusArb: fc.Arbitrary<StatusRecord> = fc.record(
      {
        truckId: truckIdArb,
        state: fc.constantFrom("online", "offline") as fc.Arbitrary<"online" | "offline">,
        ts: fc
          .date({ min: new Date("2020-01-01"), max: new Date("2040-01-01"), noInvalidDate: true })
          .map((d) => d.toISOString()),
        agentVersion: fc.string({ maxLength: 32 }),
        bootId: fc.uuid(),
        outboxDepth: fc.nat(),
        reason: fc.string({ maxLength: 200 }),
      },
      { requiredKeys: ["truckId", "state", "ts"] },
    );
    fc.assert(
      fc.property(statusArb, (status) => {
        const message = toStatusMessage(status, { ...meta, mqttTopic: `fleetsync/v1/${status.truckId}/status` });
        expectValid("status.v1.schema.json", JSON.parse(message.value as string));
        expectValid("record-headers.v1.schema.json", message.headers);
      }),
      { numRuns: 200 },
    );
  });

  it("every dead-letter message's headers validate, also for unknown trucks and long reasons", () => {
    fc.assert(
      fc.property(
        fc.option(truckIdArb, { nil: null }),
        fc.string({ maxLength: 2000, unit: "grapheme" }),
        fc.uint8Array({ maxLength: 64 }),
        (truckId, reason, payload) => {
          const message = toDeadLetterMessage({
            truckId,
            mqttTopic: `fleetsync/v1/${truckId ?? "??"}/telemetry`,
            payload: Buffer.from(payload),
            error: new FleetError("FLEET_PAYLOAD_INVALID", reason),
            receivedAt: meta.receivedAt,
          });
          expectValid("deadletter-headers.v1.schema.json", message.headers);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("confirm replies validate", () => {
    expectValid(
      "confirm-reply.v1.schema.json",
      JSON.parse(
        encodeConfirmReply({ ok: true, topic: "fleet.telemetry", partition: 3, offset: "1234", records: 1 }).toString(),
      ),
    );
    expectValid(
      "confirm-reply.v1.schema.json",
      JSON.parse(encodeConfirmReply({ ok: false, code: "FLEET_KAFKA", reason: "Kafka is not reachable" }).toString()),
    );
  });
});
