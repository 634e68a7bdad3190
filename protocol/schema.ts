/**
 * The published JSON Schemas (JSON Schema 2020-12), generated from the same zod schemas the codec validates with,
 * so the TypeScript types, the runtime checks and the documents backend teams read cannot drift. `npm run schema`
 * writes them to protocol/schema/; a unit test fails when the committed files are stale.
 *
 * The schemas use an open content model: additionalProperties is left open although FleetSync itself never sends
 * a field the schema does not name, so a consumer validating with an older copy keeps working when a later minor
 * version adds an optional field (see "Schema evolution" in docs/kafka-contract.md).
 */
import { z } from "zod";
import { ALERT_SCHEMA_ID, AlertSchema } from "./alerts.ts";
import { ConfirmReplySchema } from "./confirm.ts";
import { KAFKA_HEADERS, MAX_ERROR_REASON_CHARS, SCHEMA_IDS, SCHEMA_VERSION } from "./kafka.ts";
import {
  EventRecordSchema,
  LatestRecordSchema,
  StatusRecordSchema,
  TelemetryRecordSchema,
  TimestampSchema,
} from "./records.ts";
import { REMOTE_CONFIG_SCHEMA_ID, RemoteConfigSchema } from "./remote-config.ts";
import { TruckIdSchema } from "./truck-id.ts";

const recordHeaders = (schemaId: string, contentType: string) => ({
  [KAFKA_HEADERS.schema]: z.literal(schemaId).describe("Which schema the value follows."),
  [KAFKA_HEADERS.schemaVersion]: z.literal(SCHEMA_VERSION).describe("Major version of that schema."),
  [KAFKA_HEADERS.contentType]: z.literal(contentType),
  [KAFKA_HEADERS.mqttTopic]: z.string().min(1).describe("The MQTT topic the payload arrived on."),
  [KAFKA_HEADERS.receivedAt]: TimestampSchema.describe("When the broker received the payload (broker clock)."),
});

/** Headers of every fleet.telemetry / fleet.events / fleet.status message (values are UTF-8 strings). */
export const RecordHeadersSchema = z
  .object({
    ...recordHeaders(SCHEMA_IDS.telemetry, "application/json"),
    [KAFKA_HEADERS.schema]: z.enum([SCHEMA_IDS.telemetry, SCHEMA_IDS.events, SCHEMA_IDS.status, SCHEMA_IDS.latest]),
  })
  .strict()
  .describe("Kafka headers of a fleet.telemetry, fleet.events, fleet.status or fleet.latest message.");

/** Headers of a fleet.deadletter message: its value is the raw payload, so the headers explain it. */
export const DeadLetterHeadersSchema = z
  .object({
    ...recordHeaders(SCHEMA_IDS.deadletter, "application/octet-stream"),
    [KAFKA_HEADERS.errorCode]: z
      .string()
      .regex(/^FLEET_[A-Z0-9_]+$/)
      .describe("Stable error code, e.g. FLEET_PAYLOAD_INVALID."),
    [KAFKA_HEADERS.errorReason]: z.string().max(MAX_ERROR_REASON_CHARS).describe("What was wrong, for people."),
    [KAFKA_HEADERS.truckId]: TruckIdSchema.optional().describe("The truck, when the MQTT topic named a valid one."),
  })
  .strict()
  .describe("Kafka headers of a fleet.deadletter message (the value is the rejected payload, byte for byte).");

/** File name -> the zod schema it is generated from. */
export const PUBLISHED_SCHEMAS = {
  "telemetry.v1.schema.json": {
    id: SCHEMA_IDS.telemetry,
    title: "FleetSync telemetry record",
    zod: TelemetryRecordSchema,
  },
  "event.v1.schema.json": { id: SCHEMA_IDS.events, title: "FleetSync event record", zod: EventRecordSchema },
  "status.v1.schema.json": { id: SCHEMA_IDS.status, title: "FleetSync truck status", zod: StatusRecordSchema },
  "latest.v1.schema.json": {
    id: SCHEMA_IDS.latest,
    title: "FleetSync truck current state (fleet.latest)",
    zod: LatestRecordSchema,
  },
  "record-headers.v1.schema.json": {
    id: "fleetsync.record-headers",
    title: "FleetSync Kafka record headers",
    zod: RecordHeadersSchema,
  },
  "deadletter-headers.v1.schema.json": {
    id: "fleetsync.deadletter-headers",
    title: "FleetSync dead-letter headers",
    zod: DeadLetterHeadersSchema,
  },
  "alert.v1.schema.json": { id: ALERT_SCHEMA_ID, title: "FleetSync alert (fleet.alerts)", zod: AlertSchema },
  "remote-config.v1.schema.json": {
    id: REMOTE_CONFIG_SCHEMA_ID,
    title: "FleetSync remote configuration (fleet.config value, MQTT config payload)",
    zod: RemoteConfigSchema,
  },
  "confirm-reply.v1.schema.json": {
    id: "fleetsync.confirm-reply",
    title: "FleetSync MQTT confirmation reply",
    zod: ConfirmReplySchema,
  },
} as const;

export type PublishedSchemaFile = keyof typeof PUBLISHED_SCHEMAS;

function openContent(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openContent);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "additionalProperties" && value === false) continue;
    out[key] = openContent(value);
  }
  return out;
}

/** Builds one published schema document. */
export function buildJsonSchema(file: PublishedSchemaFile): Record<string, unknown> {
  const { id, title, zod } = PUBLISHED_SCHEMAS[file];
  const generated = openContent(z.toJSONSchema(zod, { target: "draft-2020-12", io: "output" })) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = generated;
  return { $schema, $id: `urn:fleetsync:schema:${id}:${SCHEMA_VERSION}`, title, ...rest };
}

export function buildJsonSchemas(): Record<PublishedSchemaFile, Record<string, unknown>> {
  const out = {} as Record<PublishedSchemaFile, Record<string, unknown>>;
  for (const file of Object.keys(PUBLISHED_SCHEMAS) as PublishedSchemaFile[]) out[file] = buildJsonSchema(file);
  return out;
}
