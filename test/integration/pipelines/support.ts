/** Helpers for the pipeline tests: records of the contract's shape and a producer writing them to a real Kafka. */
import type { Kafka } from "kafkajs";
import { type Alert, alertId, toAlertMessage } from "../../../protocol/alerts.ts";
import {
  createPipelineRunner,
  parsePipelineRuntimeConfig,
  type PipelineRunner,
  type PipelineRunnerDeps,
} from "../../../pipelines/runtime/index.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "../../../protocol/records.ts";
import { kafkaBrokers } from "../../support/kafka.ts";

export function telemetry(truckId: string, seq: number, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    truckId,
    stream: "00000000000000aa",
    seq,
    ts: new Date(Date.UTC(2026, 10, 30, 6, 0, seq % 60)).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: 48 + seq / 10_000,
      lon: 11 + seq / 10_000,
      altM: 500,
      speedKmh: 50,
      courseDeg: 90,
      sats: 9,
      hdop: 0.9,
    },
    engine: { engineSpeedRpm: 1200, fuelLevelPct: 60, coolantTempC: 85 },
    ...over,
  };
}

export function ignition(truckId: string, seq: number, on: boolean): EventRecord {
  return {
    truckId,
    stream: "00000000000000bb",
    seq,
    ts: new Date().toISOString(),
    timeSource: "system",
    type: "ignition",
    on,
  };
}

export function status(truckId: string, state: "online" | "offline"): StatusRecord {
  return { truckId, state, ts: new Date().toISOString() };
}

/** Writes values (objects become JSON; strings go as they are, for invalid records) keyed by truck id. */
export async function produce(
  kafka: Kafka,
  topic: string,
  values: (object | string | null)[],
  keyOf: (value: object | string | null) => string = (v) =>
    typeof v === "object" && v !== null ? (v as { truckId: string }).truckId : "junk",
  /** Each record's headers (by its index); a null value is written as a null header. */
  headersOf?: (index: number) => Record<string, string | null>,
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: values.map((v, i) => ({
        key: keyOf(v),
        value: v === null ? null : typeof v === "string" ? v : JSON.stringify(v),
        // kafkajs' type has no null header value, but it writes one (length -1), as another producer may.
        ...(headersOf ? { headers: headersOf(i) as Record<string, string> } : {}),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

export async function committed(kafka: Kafka, groupId: string, topic: string): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries((entry?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** A promise with its resolve, for handlers a test holds open. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A runner on one telemetry topic of the test Kafka, from the beginning, with quick handler retries. */
export function telemetryRunner(
  topic: string,
  groupId: string,
  deps: PipelineRunnerDeps,
  extra: Record<string, unknown> = {},
): PipelineRunner {
  const config = parsePipelineRuntimeConfig({
    name: "test",
    groupId,
    kafka: { brokers: kafkaBrokers() },
    topics: { telemetry: topic },
    fromBeginning: true,
    retry: { initialMs: 50, maxMs: 200 },
    ...extra,
  });
  return createPipelineRunner(config, deps);
}

/** "truck:seq" of each record, for comparing what a handler saw. */
export const seqs = (records: { truckId: string; seq: number }[]) => records.map((r) => `${r.truckId}:${r.seq}`);

/** Writes an idling alert just opened for `truckId` to `topic`, as the detect pipeline would; returns it. */
export async function produceOpenedAlert(kafka: Kafka, topic: string, truckId: string): Promise<Alert> {
  const stream = "0123456789abcdef";
  const now = new Date().toISOString();
  const alert: Alert = {
    id: alertId({ truckId, detector: "idling", stream, seq: 1 }),
    truckId,
    detector: "idling",
    state: "opened",
    version: 0,
    trigger: { stream, seq: 1, ts: now, timeSource: "gnss" },
    openedAt: now,
    at: now,
    message: "engine running, not moving for 20 min",
    evidence: {},
    thresholds: {},
  };
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [toAlertMessage(alert)] });
  } finally {
    await producer.disconnect();
  }
  return alert;
}
