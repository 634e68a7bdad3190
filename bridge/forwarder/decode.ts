/**
 * Payload -> Kafka messages for one publish, by topic kind, using protocol/ only. Never throws: a payload that
 * cannot be accepted becomes one dead-letter message carrying the reason (design, promise 6).
 */
import { FleetError } from "../../common/errors.ts";
import { decodeEvents, decodeTelemetry, describeIssues } from "../../protocol/codec.ts";
import {
  type KafkaMessageOut,
  type ReceiveMeta,
  toDeadLetterMessage,
  toEventMessages,
  toLatestMessage,
  toStatusMessage,
  toTelemetryMessages,
} from "../../protocol/kafka.ts";
import { StatusRecordSchema } from "../../protocol/records.ts";
import type { PublishKind } from "../auth/acl.ts";
import type { KafkaTopics, OutMessage } from "../kafka-sink/index.ts";

export type Decoded =
  { ok: true; kind: PublishKind; messages: OutMessage[] } | { ok: false; error: FleetError; messages: OutMessage[] };

function decodeStatus(truckId: string, payload: Buffer) {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch (error) {
    return {
      ok: false as const,
      error: new FleetError("FLEET_PAYLOAD_INVALID", "status payload is not JSON", { cause: error }),
    };
  }
  if (value && typeof value === "object" && !("truckId" in value)) value = { ...value, truckId };
  const parsed = StatusRecordSchema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false as const,
      error: new FleetError("FLEET_PAYLOAD_INVALID", `status: ${describeIssues(parsed.error)}`),
    };
  }
  if (parsed.data.truckId !== truckId) {
    return {
      ok: false as const,
      error: new FleetError("FLEET_PAYLOAD_INVALID", `status names truck ${parsed.data.truckId}, topic ${truckId}`),
    };
  }
  return { ok: true as const, records: [parsed.data] };
}

/** The messages are fresh objects made for this publish: add the topic in place rather than copy each one. */
function withTopic(topic: string, messages: KafkaMessageOut[]): OutMessage[] {
  const out = messages as OutMessage[];
  for (const message of out) message.topic = topic;
  return out;
}

export function decodePublish(
  truckId: string,
  kind: PublishKind,
  payload: Buffer,
  meta: ReceiveMeta,
  topics: KafkaTopics,
  maxBytes: number,
): Decoded {
  let messages: OutMessage[] | undefined;
  let error: FleetError | undefined;
  if (kind === "telemetry") {
    const result = decodeTelemetry(truckId, payload, { maxBytes });
    if (result.ok) messages = withTopic(topics.telemetry, toTelemetryMessages(result.records, meta));
    else error = result.error;
  } else if (kind === "latest") {
    const result = decodeTelemetry(truckId, payload, { maxBytes });
    if (result.ok && result.records.length !== 1) {
      error = new FleetError("FLEET_PAYLOAD_INVALID", `latest holds ${result.records.length} records, not one`);
    } else if (result.ok) messages = [{ topic: topics.latest, ...toLatestMessage(result.records[0]!, meta) }];
    else error = result.error;
  } else if (kind === "events") {
    const result = decodeEvents(truckId, payload, { maxBytes });
    if (result.ok) messages = withTopic(topics.events, toEventMessages(result.records, meta));
    else error = result.error;
  } else {
    const result =
      payload.length > maxBytes
        ? {
            ok: false as const,
            error: new FleetError("FLEET_PAYLOAD_TOO_LARGE", `status payload over ${maxBytes} bytes`),
          }
        : decodeStatus(truckId, payload);
    if (result.ok) messages = result.records.map((r) => ({ topic: topics.status, ...toStatusMessage(r, meta) }));
    else error = result.error;
  }
  if (messages && messages.length > 0) return { ok: true, kind, messages };
  error ??= new FleetError("FLEET_PAYLOAD_INVALID", "payload holds no records");
  const dead = toDeadLetterMessage({ truckId, mqttTopic: meta.mqttTopic, payload, error, receivedAt: meta.receivedAt });
  return { ok: false, error, messages: [{ topic: topics.deadletter, ...dead }] };
}
