/**
 * fleet.alerts: what the detect pipeline (`fleetsync detect`, group fleetsync-detect) writes for whoever acts on
 * patterns in a truck's stream (dispatch, a phone notifier, a ticketing system). One JSON value per alert change,
 * key = truck id, like every other topic. The contract for readers is docs/kafka-contract.md ("fleet.alerts").
 *
 * Every alert has a deterministic id: a hash of the truck, the detector, the (stream, seq) of the record that
 * triggered it and, where one record can trigger several alerts, the subject (a geofence, a trouble code). A replay
 * re-derives the same ids, so a consumer drops what it already has by (id, version).
 */
import { createHash, hash } from "node:crypto";
import { z } from "zod";
import { type KafkaMessageOut, KAFKA_HEADERS, SCHEMA_VERSION } from "./kafka.ts";
import { SeqSchema, StreamIdSchema, TimeSourceSchema, TimestampSchema } from "./records.ts";
import { TruckIdSchema } from "./truck-id.ts";

/** Default name of the alerts topic (the detect pipeline lets operators rename it). */
export const ALERTS_TOPIC = "fleet.alerts";
export const ALERT_SCHEMA_ID = "fleetsync.alert";

export const DETECTORS = [
  "idling",
  "silent",
  "fuel-drop",
  "refuel",
  "dtc",
  "geofence-enter",
  "geofence-exit",
  "geofence-dwell",
] as const;

export const DetectorSchema = z
  .enum(DETECTORS)
  .describe(
    "Which detector raised the alert. idling: engine on, not moving (possible theft); silent: a truck that was " +
      "active went quiet without saying goodbye; fuel-drop: fuel fell while parked with the engine off (siphoning); " +
      "refuel: fuel rose (informational); dtc: a new active trouble code; geofence-enter/-exit/-dwell: a polygon " +
      "of the geofence file was entered, left, or stayed in longer than its limit.",
  );

export const AlertStateSchema = z
  .enum(["opened", "updated", "closed"])
  .describe(
    "opened: the condition began; updated: it goes on with new evidence; closed: it ended. A momentary alert " +
      "(refuel, geofence-enter, geofence-exit) is written once, already closed.",
  );

const AlertIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/)
  .describe("Deterministic id: the first 128 bits of SHA-256 over truck, detector, trigger (stream, seq), subject.");

const PositionSchema = z
  .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
  .strict()
  .describe("WGS84 degrees.");

const ValueSchema = z.union([z.number(), z.string(), z.boolean(), z.null()]);

export const AlertSchema = z
  .object({
    id: AlertIdSchema,
    truckId: TruckIdSchema,
    detector: DetectorSchema,
    state: AlertStateSchema,
    version: z
      .number()
      .int()
      .min(0)
      .describe("0 for opened, +1 for every later change of the same id: keep the highest version per id."),
    subject: z
      .string()
      .max(128)
      .optional()
      .describe("What the alert is about when a truck can have several at once: a geofence id, a trouble code."),
    trigger: z
      .object({
        stream: StreamIdSchema,
        seq: SeqSchema,
        ts: TimestampSchema,
        timeSource: TimeSourceSchema,
      })
      .strict()
      .describe("The record (telemetry or event) that opened the alert; the id is derived from it."),
    openedAt: TimestampSchema.describe("Event time (the records' ts) when the condition began."),
    at: TimestampSchema.describe("Event time of this change (= openedAt for opened)."),
    position: PositionSchema.optional().describe("Where the truck was at this change, when known."),
    message: z.string().max(300).describe("One line for people."),
    evidence: z
      .record(z.string(), ValueSchema)
      .describe("The values that made the detector decide (times, positions, levels), per detector."),
    thresholds: z.record(z.string(), ValueSchema).describe("The thresholds in force, so a reader can judge the alert."),
  })
  .strict()
  .describe("One change of one alert on fleet.alerts.");

export type Detector = z.infer<typeof DetectorSchema>;
export type AlertState = z.infer<typeof AlertStateSchema>;
export type Alert = z.infer<typeof AlertSchema>;

/** The deterministic id of an alert: same inputs, same id, in every run and every replay. */
export function alertId(input: {
  truckId: string;
  detector: Detector;
  stream: string;
  seq: number;
  subject?: string;
}): string {
  const text = [input.truckId, input.detector, input.stream, String(input.seq), input.subject ?? ""].join("\n");
  return sha256Hex(text).slice(0, 32);
}

/** One-shot hashing where Node has it (20.12+): a third of createHash's cost, which makes a Hash object per call. */
const sha256Hex: (text: string) => string =
  typeof hash === "function"
    ? (text) => hash("sha256", text, "hex")
    : (text) => createHash("sha256").update(text).digest("hex");

/** Each alert's JSON, made once: the alerts topic's value and a terminal's line (`fleetsync detect`) share it. */
const json = new WeakMap<Alert, string>();

/** An alert's JSON text (the value on fleet.alerts). An alert is not changed once made; its text is kept. */
export function alertJson(alert: Alert): string {
  let text = json.get(alert);
  if (text === undefined) {
    text = JSON.stringify(alert);
    json.set(alert, text);
  }
  return text;
}

/** One alert change -> one message on fleet.alerts. */
export function toAlertMessage(alert: Alert): KafkaMessageOut {
  return {
    key: alert.truckId,
    value: alertJson(alert),
    headers: {
      [KAFKA_HEADERS.schema]: ALERT_SCHEMA_ID,
      [KAFKA_HEADERS.schemaVersion]: SCHEMA_VERSION,
      [KAFKA_HEADERS.contentType]: "application/json",
    },
  };
}
