import { describe, expect, it } from "vitest";
import { FleetError } from "../common/errors.ts";
import {
  DEFAULT_KAFKA_TOPICS,
  KAFKA_HEADERS,
  MAX_ERROR_REASON_CHARS,
  toDeadLetterMessage,
  toEventMessage,
  toEventMessages,
  toStatusMessage,
  toTelemetryMessage,
  toTelemetryMessages,
} from "./kafka.ts";
import type { TelemetryRecord } from "./records.ts";

const record: TelemetryRecord = {
  truckId: "TRK-1",
  stream: "0123456789abcdef",
  seq: 5,
  ts: "2026-03-14T09:26:53.000Z",
  timeSource: "gnss",
  engine: { engineSpeedRpm: null },
};
const meta = { mqttTopic: "fleetsync/v1/TRK-1/telemetry", receivedAt: new Date("2026-03-14T09:26:54.183Z") };

describe("Kafka mapping", () => {
  it("has the documented default topic names", () => {
    expect(DEFAULT_KAFKA_TOPICS).toEqual({
      telemetry: "fleet.telemetry",
      events: "fleet.events",
      status: "fleet.status",
      deadletter: "fleet.deadletter",
      latest: "fleet.latest",
    });
  });

  it("keys telemetry by truck id, keeps the record as its JSON value, and names schema, source and time", () => {
    const message = toTelemetryMessage(record, meta);
    expect(message.key).toBe("TRK-1");
    expect(JSON.parse(message.value as string)).toEqual(record); // null survives: "not available" stays null
    expect(message.headers).toEqual({
      "fleet-schema": "fleetsync.telemetry",
      "fleet-schema-version": "1",
      "content-type": "application/json",
      "fleet-mqtt-topic": "fleetsync/v1/TRK-1/telemetry",
      "fleet-received-at": "2026-03-14T09:26:54.183Z",
    });
  });

  it("maps a publish's records in one call exactly as one by one (the bridge's hot path)", () => {
    const records = [record, { ...record, seq: 6 }, { ...record, seq: 7, engine: { engineSpeedRpm: 800 } }];
    expect(toTelemetryMessages(records, meta)).toEqual(records.map((r) => toTelemetryMessage(r, meta)));
    const event = { ...record, engine: undefined, type: "ignition", on: true } as never;
    expect(toEventMessages([event], meta)).toEqual([toEventMessage(event, meta)]);
  });

  it("maps events and status with their own schema ids", () => {
    const event = toEventMessage({ ...record, engine: undefined, type: "ignition", on: true } as never, meta);
    expect(event.headers[KAFKA_HEADERS.schema]).toBe("fleetsync.event");
    const status = toStatusMessage({ truckId: "TRK-1", state: "offline", ts: meta.receivedAt.toISOString() }, meta);
    expect(status.key).toBe("TRK-1");
    expect(status.headers[KAFKA_HEADERS.schema]).toBe("fleetsync.status");
  });

  it("dead-letters the raw payload with code and reason, keyed by truck id or empty when unknown", () => {
    const payload = Buffer.from([0xff, 0x00, 0x01]);
    const error = new FleetError("FLEET_PAYLOAD_INVALID", "x".repeat(2000));
    const known = toDeadLetterMessage({
      truckId: "TRK-1",
      mqttTopic: meta.mqttTopic,
      payload,
      error,
      receivedAt: meta.receivedAt,
    });
    expect(known.key).toBe("TRK-1");
    expect(known.value).toBe(payload);
    expect(known.headers[KAFKA_HEADERS.errorCode]).toBe("FLEET_PAYLOAD_INVALID");
    expect(known.headers[KAFKA_HEADERS.errorReason]).toHaveLength(MAX_ERROR_REASON_CHARS);
    expect(known.headers[KAFKA_HEADERS.truckId]).toBe("TRK-1");
    expect(known.headers[KAFKA_HEADERS.contentType]).toBe("application/octet-stream");
    const unknown = toDeadLetterMessage({
      truckId: null,
      mqttTopic: "junk/topic",
      payload,
      error,
      receivedAt: meta.receivedAt,
    });
    expect(unknown.key).toBe("");
    expect(unknown.headers[KAFKA_HEADERS.truckId]).toBeUndefined();
  });

  it("never cuts a reason inside a surrogate pair", () => {
    const reason = `${"a".repeat(MAX_ERROR_REASON_CHARS - 2)}😀😀`;
    const message = toDeadLetterMessage({
      truckId: null,
      mqttTopic: "t",
      payload: Buffer.alloc(0),
      error: new FleetError("FLEET_PAYLOAD_INVALID", reason),
      receivedAt: meta.receivedAt,
    });
    const cut = message.headers[KAFKA_HEADERS.errorReason]!;
    expect(Buffer.from(cut, "utf8").toString("utf8")).toBe(cut);
    expect(cut.endsWith("…")).toBe(true);
  });
});
