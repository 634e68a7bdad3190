/**
 * The Kafka mapping (bridge -> backend teams), as pure functions: a validated record becomes one Kafka message
 * `{ key, value, headers }`. Keys are the truck id (UTF-8), so with the Java-compatible murmur2 partitioner all of a
 * truck's records land on one partition in order (design, promise 2). Values are the record's JSON, exactly the
 * shape the published JSON Schema (protocol/schema/) describes. docs/kafka-contract.md is the prose for consumers.
 */
import type { FleetError } from "../common/errors.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "./records.ts";

/** Default topic names; the bridge lets operators rename every one. */
export const DEFAULT_KAFKA_TOPICS = {
  telemetry: "fleet.telemetry",
  events: "fleet.events",
  status: "fleet.status",
  deadletter: "fleet.deadletter",
  latest: "fleet.latest",
} as const;

export type KafkaTopicKind = keyof typeof DEFAULT_KAFKA_TOPICS;

/**
 * Schema ids carried in the `fleet-schema` header, one per topic. The major version (`fleet-schema-version`) changes
 * only on an incompatible change; see "Schema evolution" in docs/kafka-contract.md.
 */
export const SCHEMA_IDS = {
  telemetry: "fleetsync.telemetry",
  events: "fleetsync.event",
  status: "fleetsync.status",
  deadletter: "fleetsync.deadletter",
  latest: "fleetsync.latest",
} as const satisfies Record<KafkaTopicKind, string>;

export const SCHEMA_VERSION = "1";

/** Header names (lowercase, dash-separated; values are UTF-8 strings). */
export const KAFKA_HEADERS = {
  schema: "fleet-schema",
  schemaVersion: "fleet-schema-version",
  contentType: "content-type",
  mqttTopic: "fleet-mqtt-topic",
  receivedAt: "fleet-received-at",
  truckId: "fleet-truck-id",
  errorCode: "fleet-error-code",
  errorReason: "fleet-error-reason",
} as const;

/** Dead-letter reasons are cut to this many characters so a header never dwarfs the payload it explains. */
export const MAX_ERROR_REASON_CHARS = 500;

export interface KafkaMessageOut {
  key: string;
  value: string | Buffer;
  headers: Record<string, string>;
}

export interface ReceiveMeta {
  /** The MQTT topic the payload arrived on. */
  mqttTopic: string;
  /** When the broker received the payload (broker clock). */
  receivedAt: Date;
}

function baseHeaders(kind: KafkaTopicKind, contentType: string, meta: ReceiveMeta): Record<string, string> {
  return {
    [KAFKA_HEADERS.schema]: SCHEMA_IDS[kind],
    [KAFKA_HEADERS.schemaVersion]: SCHEMA_VERSION,
    [KAFKA_HEADERS.contentType]: contentType,
    [KAFKA_HEADERS.mqttTopic]: meta.mqttTopic,
    [KAFKA_HEADERS.receivedAt]: meta.receivedAt.toISOString(),
  };
}

/** One telemetry record -> one message on fleet.telemetry. The record must already be valid (the codec checks). */
export function toTelemetryMessage(record: TelemetryRecord, meta: ReceiveMeta): KafkaMessageOut {
  return {
    key: record.truckId,
    value: JSON.stringify(record),
    headers: baseHeaders("telemetry", "application/json", meta),
  };
}

/** One event -> one message on fleet.events. */
export function toEventMessage(record: EventRecord, meta: ReceiveMeta): KafkaMessageOut {
  return {
    key: record.truckId,
    value: JSON.stringify(record),
    headers: baseHeaders("events", "application/json", meta),
  };
}

/**
 * All records of one publish -> their messages. Same result as mapping toTelemetryMessage / toEventMessage, but
 * the messages share ONE headers object (the headers depend only on the publish), which saves an object and a date
 * formatting per record on the bridge's hot path. Treat the shared headers as read-only.
 */
export function toTelemetryMessages(records: readonly TelemetryRecord[], meta: ReceiveMeta): KafkaMessageOut[] {
  return toMessages(records, baseHeaders("telemetry", "application/json", meta));
}

export function toEventMessages(records: readonly EventRecord[], meta: ReceiveMeta): KafkaMessageOut[] {
  return toMessages(records, baseHeaders("events", "application/json", meta));
}

function toMessages(records: readonly (TelemetryRecord | EventRecord)[], headers: Record<string, string>) {
  const out: KafkaMessageOut[] = new Array(records.length);
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i]!;
    out[i] = { key: record.truckId, value: JSON.stringify(record), headers };
  }
  return out;
}

/** A truck's online/offline state -> fleet.status (compacted: the newest message per truck id is kept). */
export function toStatusMessage(status: StatusRecord, meta: ReceiveMeta): KafkaMessageOut {
  return {
    key: status.truckId,
    value: JSON.stringify(status),
    headers: baseHeaders("status", "application/json", meta),
  };
}

/**
 * A truck's current state -> fleet.latest (compacted, key truck id: the newest message per truck is kept). The value
 * is the telemetry record itself (same shape as on fleet.telemetry, with its stream and seq), so a consumer that
 * reads both can tell it is the record the backlog will bring again later; only the schema header differs.
 */
export function toLatestMessage(record: TelemetryRecord, meta: ReceiveMeta): KafkaMessageOut {
  return {
    key: record.truckId,
    value: JSON.stringify(record),
    headers: baseHeaders("latest", "application/json", meta),
  };
}

/**
 * A payload that could not be accepted -> fleet.deadletter, byte for byte, with the reason in headers. The key is
 * the truck id when the topic named a valid one, otherwise the empty string (unknown senders share a partition).
 */
export function toDeadLetterMessage(input: {
  truckId: string | null;
  mqttTopic: string;
  payload: Buffer;
  error: FleetError;
  receivedAt: Date;
}): KafkaMessageOut {
  const headers = baseHeaders("deadletter", "application/octet-stream", input);
  headers[KAFKA_HEADERS.errorCode] = input.error.code;
  headers[KAFKA_HEADERS.errorReason] = truncate(input.error.message, MAX_ERROR_REASON_CHARS);
  if (input.truckId !== null) headers[KAFKA_HEADERS.truckId] = input.truckId;
  return { key: input.truckId ?? "", value: input.payload, headers };
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Cut on a code point boundary so the header stays valid UTF-8.
  return `${text.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, "")}…`;
}
