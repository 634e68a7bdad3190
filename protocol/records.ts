/**
 * The record model: one source of truth for the TypeScript types, the runtime validation and the published JSON
 * Schema (`schema.ts` emits it from these same zod schemas, so the three cannot drift).
 *
 * Units are in field names. Every number has a stated resolution (the wire codec carries exactly that many
 * decimals, so a valid record survives encode -> decode unchanged); producers round to it with `roundTo`.
 * An engine field that is absent means "this truck does not report it"; `null` means the ECU reported
 * "not available" or "error" (J1939-71 raw 0xFE/0xFF patterns), never a made-up number.
 */
import { z } from "zod";
import { TruckIdSchema } from "./truck-id.ts";

/** Rounds to `decimals` places the same way the codec does, so rounded values validate and round-trip. */
export function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

function fixed(decimals: number, min: number, max: number, doc: string) {
  return z
    .number()
    .min(min)
    .max(max)
    .refine((v) => roundTo(v, decimals) === v, { message: `must have at most ${decimals} decimal places` })
    .describe(`${doc} Resolution 1e-${decimals}, range ${min}..${max}.`);
}

/** Text that survives UTF-8 (no lone UTF-16 surrogates), so the binary codec carries it unchanged. */
function text(max: number, doc: string) {
  return z
    .string()
    .max(max)
    .refine((v) => !LONE_SURROGATE.test(v), { message: "must be well-formed Unicode (no lone surrogates)" })
    .describe(`${doc} At most ${max} UTF-16 code units.`);
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function int(min: number, max: number, doc: string) {
  return z.number().int().min(min).max(max).describe(`${doc} Integer, range ${min}..${max}.`);
}

/** A random id chosen when an agent's outbox is created afresh: 16 lowercase hex digits (64 bits). */
export const StreamIdSchema = z
  .string()
  .regex(/^[0-9a-f]{16}$/)
  .describe("Stream id: 16 hex digits, new whenever a truck's outbox is created afresh. seq restarts with it.");

/** The seq of the first record of each channel of a new stream (the agent's outbox starts there). */
export const FIRST_SEQ = 0;

export const SeqSchema = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .describe("Sequence number: rises by exactly one per record within (truckId, stream, channel).");

/** ISO 8601 UTC with milliseconds, e.g. 2026-11-21T05:35:21.000Z. */
export const TimestampSchema = z.iso
  .datetime({ precision: 3 })
  .describe("Time of the measurement, ISO 8601 UTC with milliseconds.");

export const TimeSourceSchema = z
  .enum(["gnss", "system"])
  .describe("gnss: time from the GPS fix; system: the gateway's clock (may be wrong: a Pi has no RTC battery).");

export const GpsSchema = z
  .object({
    fix: z.enum(["none", "2d", "3d"]).describe("Fix type."),
    lat: fixed(7, -90, 90, "Latitude in degrees, WGS84.").nullable(),
    lon: fixed(7, -180, 180, "Longitude in degrees, WGS84.").nullable(),
    altM: fixed(1, -1000, 20000, "Altitude above mean sea level in metres.").nullable(),
    speedKmh: fixed(1, 0, 400, "Speed over ground in km/h.").nullable(),
    courseDeg: fixed(1, 0, 359.9, "Course over ground in degrees from true north.").nullable(),
    sats: int(0, 255, "Satellites used in the fix.").nullable(),
    hdop: fixed(1, 0, 99.9, "Horizontal dilution of precision.").nullable(),
  })
  .strict()
  .describe("The GPS fix the record was taken from.");

export const J1939DtcSchema = z
  .object({
    spn: int(0, 524287, "Suspect Parameter Number (19 bits)."),
    fmi: int(0, 31, "Failure Mode Identifier."),
    oc: int(0, 127, "Occurrence count (127 = not available)."),
    sa: int(
      0,
      255,
      "Source address of the ECU that reports the code (J1939-81; 0 = engine #1). Added in v1.1.",
    ).optional(),
  })
  .strict()
  .describe("A J1939 DM1 active trouble code.");

export const ObdDtcSchema = z
  .string()
  .regex(/^[PCBU][0-3][0-9A-F]{3}$/)
  .describe("An OBD-II trouble code such as P0301.");

export const EngineSchema = z
  .object({
    engineSpeedRpm: int(0, 8032, "Engine speed in rpm (J1939 SPN 190, OBD-II PID 0C).").nullable().optional(),
    torquePct: int(-125, 125, "Actual engine torque in percent of reference (SPN 513).").nullable().optional(),
    wheelSpeedKmh: fixed(1, 0, 251, "Wheel-based vehicle speed in km/h (SPN 84, OBD-II PID 0D).").nullable().optional(),
    brakeSwitch: z.boolean().describe("Service brake pedal pressed (SPN 597).").nullable().optional(),
    parkingBrake: z.boolean().describe("Parking brake set (SPN 70).").nullable().optional(),
    coolantTempC: int(-40, 210, "Engine coolant temperature in degrees C (SPN 110, OBD-II PID 05).")
      .nullable()
      .optional(),
    fuelRateLph: fixed(2, 0, 3212.75, "Engine fuel rate in litres per hour (SPN 183, OBD-II PID 5E).")
      .nullable()
      .optional(),
    fuelLevelPct: fixed(1, 0, 100, "Fuel level in percent (SPN 96, OBD-II PID 2F).").nullable().optional(),
    engineHours: fixed(2, 0, 210554060.75, "Total engine hours (SPN 247).").nullable().optional(),
    runTimeS: int(0, 65535, "Seconds since engine start (OBD-II PID 1F).").nullable().optional(),
    totalDistanceKm: fixed(3, 0, 21055406, "Total vehicle distance in km (SPN 917/245, OBD-II PID A6).")
      .nullable()
      .optional(),
    totalFuelL: fixed(1, 0, 2105540608, "Total fuel used in litres (SPN 250).").nullable().optional(),
    oilPressureKpa: int(0, 1000, "Engine oil pressure in kPa (SPN 100).").nullable().optional(),
    ambientTempC: fixed(1, -273, 1735, "Ambient air temperature in degrees C (SPN 171).").nullable().optional(),
  })
  .strict()
  .describe("Engine state from the CAN bus; absent = not reported by this truck, null = not available or error.");

const envelope = {
  truckId: TruckIdSchema,
  stream: StreamIdSchema,
  seq: SeqSchema,
  ts: TimestampSchema,
  timeSource: TimeSourceSchema,
};

export const TelemetryRecordSchema = z
  .object({
    ...envelope,
    gps: GpsSchema.optional(),
    engine: EngineSchema.optional(),
    dtcs: z.array(J1939DtcSchema).max(64).describe("Active J1939 trouble codes (DM1).").optional(),
    obdDtcs: z.array(ObdDtcSchema).max(64).describe("Stored OBD-II trouble codes (mode 03).").optional(),
  })
  .strict()
  .describe("One telemetry record: a sample of the truck's position and engine state.");

const dtcRef = z
  .object({ j1939: J1939DtcSchema.optional(), obd: ObdDtcSchema.optional() })
  .strict()
  .describe("The trouble code: j1939 for trucks, obd for light vehicles.");

const eventEnvelope = { ...envelope, gps: GpsSchema.optional().describe("Where the truck was, when known.") };

/** Events: one object per type, each carrying the full envelope (a flat object keeps the JSON Schema simple). */
export const EventRecordSchema = z
  .discriminatedUnion("type", [
    z
      .object({ ...eventEnvelope, type: z.literal("ignition"), on: z.boolean().describe("true: on; false: off.") })
      .strict()
      .describe("Ignition switched on or off."),
    z
      .object({ ...eventEnvelope, type: z.literal("dtc"), change: z.enum(["raised", "cleared"]), dtc: dtcRef })
      .strict()
      .describe("A trouble code became active or stopped being active."),
    z
      .object({
        ...eventEnvelope,
        type: z.literal("gap"),
        channel: z.enum(["telemetry", "events"]).describe("The channel whose records were dropped."),
        fromSeq: SeqSchema.describe("First lost seq (inclusive)."),
        toSeq: SeqSchema.describe("Last lost seq (inclusive)."),
        count: int(1, Number.MAX_SAFE_INTEGER, "How many records were lost."),
        reason: z
          .enum(["outbox-full", "disk-full", "recovery"])
          .describe(
            "Why: outbox-full = its disk budget (maxBytes) was reached and the oldest were dropped; disk-full = the file system's free space fell below the outbox's reserve and the oldest were dropped; recovery = after a crash the outbox could not prove these seqs whole (some may never have held a record: the count is an upper bound).",
          ),
      })
      .strict()
      .refine((g) => g.toSeq >= g.fromSeq && g.count === g.toSeq - g.fromSeq + 1, {
        message: "a gap needs toSeq >= fromSeq and count = toSeq - fromSeq + 1",
        path: ["count"],
      })
      .describe("Records the truck's outbox lost: dropped because its budget or disk was full, or not recovered."),
    z
      .object({
        ...eventEnvelope,
        type: z.literal("thinned"),
        channel: z.literal("telemetry").describe("The channel that was thinned (only telemetry ever is)."),
        fromSeq: SeqSchema.describe("First seq of the thinned range (inclusive)."),
        toSeq: SeqSchema.describe("Last seq of the thinned range (inclusive)."),
        count: int(1, Number.MAX_SAFE_INTEGER, "How many records of the range were removed."),
        keptEveryS: int(1, 86_400, "The interval kept: one position per this many seconds, plus every state change."),
      })
      .strict()
      .refine((t) => t.toSeq >= t.fromSeq && t.count <= t.toSeq - t.fromSeq + 1, {
        message: "a thinned range needs toSeq >= fromSeq and count <= toSeq - fromSeq + 1",
        path: ["count"],
      })
      .describe(
        "The truck's outbox reached its budget during a long outage and thinned its oldest telemetry instead of dropping it: of the records fromSeq..toSeq, `count` were removed and one per `keptEveryS` seconds was kept, with every record that carries a state change (engine running, trouble codes, moving or stopped). The seqs missing inside the range are these removed records: announced, not lost. Added in v1.2.",
      ),
    z
      .object({
        ...eventEnvelope,
        type: z.literal("start"),
        agentVersion: text(32, "The agent's version."),
        bootId: text(64, "Identifies this boot of the gateway (Linux /proc/sys/kernel/random/boot_id)."),
      })
      .strict()
      .describe("The agent started."),
    z
      .object({
        ...eventEnvelope,
        type: z.literal("source"),
        signal: EngineSchema.keyof().describe("The engine field whose source changed."),
        from: int(
          0,
          2047,
          "The source used before: a J1939 source address (0-255) or an OBD-II reply id (0x7E8 = 2024).",
        ),
        to: int(0, 2047, "The source used from now on, coded as `from`."),
      })
      .strict()
      .describe(
        "Several ECUs send this signal and the record now takes it from another one (the chosen ECU fell silent, or a preferred one appeared). Added in v1.1.",
      ),
  ])
  .describe("One discrete event.");

/**
 * A status record's `reason` when the truck said goodbye (a clean MQTT DISCONNECT): offline by its own will. Any other
 * reason (a client error, a connection that just closed) means the connection was lost.
 */
export const CLEAN_DISCONNECT_REASON = "disconnected";

export const StatusRecordSchema = z
  .object({
    truckId: TruckIdSchema,
    state: z.enum(["online", "offline"]),
    ts: TimestampSchema.describe("When the state changed (broker clock for offline, agent clock for online)."),
    agentVersion: text(32, "The agent's version.").optional(),
    bootId: text(64, "Identifies this boot of the gateway.").optional(),
    outboxDepth: int(0, Number.MAX_SAFE_INTEGER, "Records waiting in the truck's outbox.").optional(),
    reason: z.string().max(200).optional().describe("Why the truck went offline, when known."),
    appliedConfigVersion: int(
      0,
      Number.MAX_SAFE_INTEGER,
      "The remote config version (fleet.config) the truck runs on; 0: none, its local file only.",
    ).optional(),
    configRejected: z
      .object({
        version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
        reason: z.string().max(300),
        at: TimestampSchema,
      })
      .strict()
      .optional()
      .describe("The last remote config the truck refused and why (it kept running on what it had)."),
  })
  .strict()
  .describe("A truck's latest online/offline state (compacted topic: the newest per truck is kept).");

/**
 * fleet.latest (issue 20): a truck's current state, the newest telemetry record it had taken when it sent it, with
 * that record's stream and seq. The same record also comes (later, in order) on fleet.telemetry; the latest lane
 * only lets a returning truck be shown where it is now while its backlog drains.
 */
export const LatestRecordSchema = TelemetryRecordSchema.describe(
  "A truck's current state: the newest telemetry record it had when it sent it (compacted topic, newest per truck).",
);

export type Gps = z.infer<typeof GpsSchema>;
export type Engine = z.infer<typeof EngineSchema>;
export type J1939Dtc = z.infer<typeof J1939DtcSchema>;
export type TelemetryRecord = z.infer<typeof TelemetryRecordSchema>;
export type EventType = EventRecord["type"];
export type EventRecord = z.infer<typeof EventRecordSchema>;
export type StatusRecord = z.infer<typeof StatusRecordSchema>;
export type LatestRecord = z.infer<typeof LatestRecordSchema>;
export type TimeSource = z.infer<typeof TimeSourceSchema>;
