/**
 * Sample messages for docs/kafka-contract.md, produced by the real code path: records are encoded with the wire
 * codec as a truck would send them, decoded as the bridge does, then mapped with the Kafka mapping. `npm run
 * schema` writes them into the document; a unit test fails when the document's samples are stale.
 */
import { FleetError } from "../../common/errors.ts";
import { alertId, toAlertMessage } from "../alerts.ts";
import { decodeEvents, decodeTelemetry, encodeEvents, encodeTelemetry } from "../codec.ts";
import {
  type KafkaMessageOut,
  toDeadLetterMessage,
  toEventMessage,
  toLatestMessage,
  toStatusMessage,
  toTelemetryMessage,
} from "../kafka.ts";
import type { EventRecord, TelemetryRecord } from "../records.ts";
import { type RemoteConfig, RemoteConfigSchema } from "../remote-config.ts";
import { topicFor } from "../topics.ts";

const truckId = "TRK-0042";
const stream = "5f2c9a0e13b7d846";
const receivedAt = new Date("2026-03-14T09:26:54.183Z");

const telemetry: TelemetryRecord = {
  truckId,
  stream,
  seq: 1234567,
  ts: "2026-03-14T09:26:53.000Z",
  timeSource: "gnss",
  gps: {
    fix: "3d",
    lat: 48.1402315,
    lon: 11.5823019,
    altM: 521.4,
    speedKmh: 84.2,
    courseDeg: 63.1,
    sats: 11,
    hdop: 0.8,
  },
  engine: {
    engineSpeedRpm: 1312,
    torquePct: 41,
    wheelSpeedKmh: 85.4,
    brakeSwitch: false,
    parkingBrake: false,
    coolantTempC: 88,
    fuelRateLph: 29.65,
    fuelLevelPct: 70.8,
    engineHours: 12873.45,
    totalDistanceKm: 487231.115,
    totalFuelL: 163429.5,
    oilPressureKpa: 380,
    ambientTempC: 6.4,
  },
  dtcs: [],
};

const event: EventRecord = {
  truckId,
  stream,
  seq: 812,
  ts: "2026-03-14T09:27:40.000Z",
  timeSource: "gnss",
  gps: {
    fix: "3d",
    lat: 48.1421933,
    lon: 11.5868424,
    altM: 522.1,
    speedKmh: 83.9,
    courseDeg: 64.0,
    sats: 11,
    hdop: 0.8,
  },
  type: "dtc",
  change: "raised",
  dtc: { j1939: { spn: 3216, fmi: 4, oc: 1 } },
};

/** A truck back from a long outage whose outbox thinned an hour of its oldest telemetry (one position per 30 s kept). */
const thinned: EventRecord = {
  truckId,
  stream,
  seq: 815,
  ts: "2026-03-14T13:02:11.000Z",
  timeSource: "gnss",
  type: "thinned",
  channel: "telemetry",
  fromSeq: 1_234_568,
  toSeq: 1_238_167,
  count: 3_462,
  keptEveryS: 30,
};

/** An idling alert as the detect pipeline writes it when it opens (pipelines/detect/idling.ts). */
const idlingAlert = {
  id: alertId({ truckId, detector: "idling", stream, seq: 1235767 }),
  truckId,
  detector: "idling",
  state: "opened",
  version: 0,
  trigger: { stream, seq: 1235767, ts: "2026-03-14T09:46:54.000Z", timeSource: "gnss" },
  openedAt: "2026-03-14T09:26:53.000Z",
  at: "2026-03-14T09:46:54.000Z",
  position: { lat: 48.1402315, lon: 11.5823019 },
  message: "engine running, not moving for 20 min",
  evidence: {
    sinceTs: "2026-03-14T09:26:53.000Z",
    idleMs: 1_201_000,
    engineSpeedRpm: 640,
    speedKmh: 0,
    driftM: 3.1,
    startLat: 48.1402315,
    startLon: 11.5823019,
  },
  thresholds: { idleMinutes: 20, speedKmh: 3, radiusM: 50 },
} as const;

/** A desired config as `fleetsync config set TRK-0042 --file F` writes it: records twice as often while moving. */
export const remoteConfigSample: RemoteConfig = RemoteConfigSchema.parse({
  truckId,
  version: 3,
  setAt: "2026-03-14T08:00:00.000Z",
  sampler: { movingPeriodMs: 2_500, parkedPeriodMs: 60_000 },
  state: { sources: { totalDistanceKm: [238, 23] } },
  logLevel: "debug",
});

export interface Sample {
  name: "telemetry" | "events" | "thinned" | "status" | "latest" | "deadletter" | "alerts" | "config";
  message: KafkaMessageOut;
  /** What the truck sent, as hex, when it came from the wire codec. */
  payloadHex?: string;
}

function only<T>(result: { ok: true; records: T[] } | { ok: false; error: FleetError }): T {
  if (!result.ok) throw result.error;
  return result.records[0]!;
}

export function buildSamples(): Sample[] {
  const telemetryPayload = encodeTelemetry([telemetry]);
  const eventPayload = encodeEvents([event]);
  const thinnedPayload = encodeEvents([thinned]);
  const latestPayload = encodeTelemetry([
    {
      ...telemetry,
      seq: telemetry.seq + 7_214,
      ts: "2026-03-14T11:31:06.000Z",
      gps: { ...telemetry.gps!, lat: 48.3538912, lon: 11.7860518 },
    },
  ]);
  const badPayload = Buffer.from('{"stream":"5f2c9a0e13b7d846","seq":7,"ts":"yesterday","timeSource":"gnss"}');
  const badResult = decodeTelemetry(truckId, badPayload);
  const badError = badResult.ok ? new FleetError("FLEET_PAYLOAD_INVALID", "unexpectedly valid") : badResult.error;
  return [
    {
      name: "telemetry",
      payloadHex: telemetryPayload.toString("hex"),
      message: toTelemetryMessage(only(decodeTelemetry(truckId, telemetryPayload)), {
        mqttTopic: topicFor(truckId, "telemetry"),
        receivedAt,
      }),
    },
    {
      name: "events",
      payloadHex: eventPayload.toString("hex"),
      message: toEventMessage(only(decodeEvents(truckId, eventPayload)), {
        mqttTopic: topicFor(truckId, "events"),
        receivedAt: new Date("2026-03-14T09:27:40.412Z"),
      }),
    },
    {
      name: "thinned",
      payloadHex: thinnedPayload.toString("hex"),
      message: toEventMessage(only(decodeEvents(truckId, thinnedPayload)), {
        mqttTopic: topicFor(truckId, "events"),
        receivedAt: new Date("2026-03-14T13:02:11.530Z"),
      }),
    },
    {
      name: "status",
      message: toStatusMessage(
        {
          truckId,
          state: "online",
          ts: "2026-03-14T06:09:58.000Z",
          agentVersion: "0.1.0",
          bootId: "3f1e0c52-8d7a-4a4b-9f43-1c2d3e4f5a6b",
          outboxDepth: 0,
          appliedConfigVersion: 3,
        },
        { mqttTopic: topicFor(truckId, "status"), receivedAt: new Date("2026-03-14T06:09:58.310Z") },
      ),
    },
    {
      // A truck back from an outage: its newest record goes on the latest lane at once, its backlog behind it.
      name: "latest",
      payloadHex: latestPayload.toString("hex"),
      message: toLatestMessage(only(decodeTelemetry(truckId, latestPayload)), {
        mqttTopic: topicFor(truckId, "latest"),
        receivedAt: new Date("2026-03-14T11:31:07.208Z"),
      }),
    },
    {
      name: "deadletter",
      message: toDeadLetterMessage({
        truckId,
        mqttTopic: topicFor(truckId, "telemetry"),
        payload: badPayload,
        error: badError,
        receivedAt: new Date("2026-03-14T09:30:02.007Z"),
      }),
    },
    { name: "alerts", message: toAlertMessage(idlingAlert) },
    // Written by `fleetsync config set`, not by a bridge: no headers; a tombstone (null value) removes the override.
    { name: "config", message: { key: truckId, value: JSON.stringify(remoteConfigSample), headers: {} } },
  ];
}

/** The Markdown block the document carries for one sample. */
export function renderSample(sample: Sample): string {
  const { key, value, headers } = sample.message;
  const lines = [`key: ${JSON.stringify(key)}`, "headers:"];
  for (const [name, text] of Object.entries(headers)) lines.push(`  ${name}: ${text}`);
  const body =
    typeof value === "string"
      ? JSON.stringify(JSON.parse(value), null, 2)
      : `(${value.length} bytes, the payload as received) ${value.toString("utf8")}`;
  const parts = ["```text", ...lines, "```", "", typeof value === "string" ? "```json" : "```text", body, "```"];
  if (sample.payloadHex) {
    // The format byte says the version (wire-format.ts): 0x01/0x02 v1, 0x03/0x04 v2.
    const version = Number.parseInt(sample.payloadHex.slice(0, 2), 16) >= 0x03 ? 2 : 1;
    parts.push("", `The MQTT payload it came from (binary v${version}, ${sample.payloadHex.length / 2} bytes):`, "");
    parts.push("```text", sample.payloadHex, "```");
  }
  return parts.join("\n");
}

const BEGIN = (name: string) => `<!-- sample:${name} (generated by npm run schema; do not edit) -->`;
const END = (name: string) => `<!-- /sample:${name} -->`;

/** Replaces every sample block in the document; the markers must already be there. */
export function fillSamples(markdown: string, samples: Sample[] = buildSamples()): string {
  let out = markdown;
  for (const sample of samples) {
    const begin = out.indexOf(BEGIN(sample.name));
    const end = out.indexOf(END(sample.name));
    if (begin < 0 || end < begin) throw new Error(`docs/kafka-contract.md has no sample block for ${sample.name}`);
    out = `${out.slice(0, begin + BEGIN(sample.name).length)}\n${renderSample(sample)}\n${out.slice(end)}`;
  }
  return out;
}

export const SAMPLE_MARKERS = { BEGIN, END };
