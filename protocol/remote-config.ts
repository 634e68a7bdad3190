/**
 * Remote configuration (the downlink): what the fleet office may change on a truck without a visit, as one
 * versioned, partial overlay on the truck's local configuration file. It travels as the value of the compacted
 * Kafka topic fleet.config (key = truck id; a tombstone removes the override), is delivered by every bridge to
 * `fleetsync/v1/{truckId}/config` (QoS 1), and is validated by the agent with this same schema (and by
 * `fleetsync config set` before anything is written), so the operator and the truck cannot disagree on what is
 * allowed.
 *
 * On purpose NOT here (promise 5 and the truck's reachability stay local): serial ports, CAN adapters and anything
 * that could transmit on the vehicle bus (OBD-II polling), broker addresses, credentials, TLS, the outbox folder.
 * The schema is strict: any other key is refused by name, and the whole config with it.
 *
 * Merge (agent/remote-config/merge.ts): the local file is the base; each field present here replaces the local
 * value of that field; `state.sources` replaces per engine field; `outbox.maxBytes` may only lower the local budget.
 * Group keys (`group:<name>`) are not implemented: a truck's key is its whole desired overlay.
 */
import { z } from "zod";
import { EngineSchema, TimestampSchema } from "./records.ts";
import { TruckIdSchema } from "./truck-id.ts";

export const DEFAULT_CONFIG_TOPIC = "fleet.config";
export const REMOTE_CONFIG_SCHEMA_ID = "fleetsync.remote-config";

/** Larger values are refused by `config set`, not delivered by bridges and refused by agents. */
export const REMOTE_CONFIG_MAX_BYTES = 4096;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

const DAY_MS = 86_400_000;
const ms = (min: number, doc: string) => z.number().int().min(min).max(DAY_MS).describe(doc);

/** The sampler's triggers (agent/sampler/config.ts documents each); bounded so a typo cannot flood the uplink. */
export const RemoteSamplerSchema = z
  .object({
    movingPeriodMs: ms(200, "Longest gap between records while moving."),
    parkedPeriodMs: ms(200, "Longest gap between records while parked."),
    movingSpeedKmh: z.number().min(0).max(200).describe("At or above this speed the truck counts as moving."),
    distanceM: z.number().min(0).max(100_000).describe("A record after this many metres travelled (0 = off)."),
    headingDeg: z.number().min(0).max(180).describe("A record on a heading change of this much (0 = off)."),
    speedDeltaKmh: z.number().min(0).max(200).describe("A record when speed changed this much (0 = off)."),
    minIntervalMs: ms(100, "Never two records closer than this."),
  })
  .partial()
  .strict();

export const RemoteConfigSchema = z
  .object({
    truckId: TruckIdSchema.describe("The truck this config is for: an agent refuses a config naming another truck."),
    version: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .describe("Rises with every change of this truck's config (`fleetsync config set` assigns it)."),
    setAt: TimestampSchema.optional().describe("When the operator set it."),
    sampler: RemoteSamplerSchema.optional().describe("When records are taken (applied live)."),
    state: z
      .object({
        sources: z
          .partialRecord(EngineSchema.keyof(), z.array(z.number().int().min(0).max(2047)).max(16))
          .describe("Preferred J1939 source addresses (or OBD-II reply ids) per engine field, best first."),
      })
      .partial()
      .strict()
      .optional()
      .describe("Preferred CAN sources (applied by restarting the agent's pipeline)."),
    logLevel: z.enum(LOG_LEVELS).optional().describe("The agent's log level (applied live)."),
    outbox: z
      .object({
        maxBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .describe("Disk budget in bytes; at most the local file's outbox.maxBytes (a larger one is refused)."),
      })
      .partial()
      .strict()
      .optional()
      .describe("The outbox's disk budget (applied by restarting the agent's pipeline)."),
  })
  .strict()
  .describe("A truck's desired remote configuration (fleet.config value, MQTT config payload).");

const REMOTE_FIELDS = "sampler, state.sources, logLevel, outbox.maxBytes";

export type RemoteConfig = z.infer<typeof RemoteConfigSchema>;

export type RemoteConfigCheck = { ok: true; config: RemoteConfig } | { ok: false; reason: string };

/** The reason names the field (`sampler.movingPeriodMs: Too small: ...`), for status and the CLI alike. */
export function checkRemoteConfig(payload: Buffer | string, truckId?: string): RemoteConfigCheck {
  const bytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (bytes > REMOTE_CONFIG_MAX_BYTES) {
    return { ok: false, reason: `config of ${bytes} bytes is larger than ${REMOTE_CONFIG_MAX_BYTES}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (error) {
    return { ok: false, reason: `config is not JSON: ${(error as Error).message}` };
  }
  const parsed = RemoteConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      // A setting that exists locally but may not be set remotely (ports, broker, credentials, CAN) lands here.
      const field = [...issue.path.map(String), issue.keys[0]].join(".");
      return { ok: false, reason: `${field}: may not be set remotely (only ${REMOTE_FIELDS})` };
    }
    return { ok: false, reason: `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}` };
  }
  if (truckId !== undefined && parsed.data.truckId !== truckId) {
    return { ok: false, reason: `truckId: config is for ${parsed.data.truckId}, not ${truckId}` };
  }
  return { ok: true, config: parsed.data };
}
