import { z } from "zod";
import { EngineSchema } from "../../protocol/index.ts";

/**
 * Which ECU feeds each signal when several send it, best first; a source not listed ranks after the listed ones,
 * in the order first heard. J1939-81 preferred addresses: 0 engine #1, 23 instrument cluster #1, 238 tachograph.
 * The engine's own measurements come from the engine; the odometer from the one the dashboard shows (the cluster,
 * else the tachograph), since the engine's VD counts only its own life and differs after an engine swap.
 */
export const DEFAULT_SOURCE_PREFERENCE: Readonly<Partial<Record<keyof z.infer<typeof EngineSchema>, number[]>>> = {
  engineSpeedRpm: [0],
  torquePct: [0],
  coolantTempC: [0],
  fuelRateLph: [0],
  engineHours: [0],
  totalFuelL: [0],
  oilPressureKpa: [0],
  totalDistanceKm: [23, 238],
};

/** How the latest fix and engine state age, and when the ignition counts as off. */
export const StateConfigSchema = z
  .object({
    engineStaleMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe("An engine value not heard for this long leaves the records (the ECU stopped sending it)."),
    fixStaleMs: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe("A GPS fix older than this is not put into records (the receiver went quiet)."),
    ignitionOffAfterMs: z
      .number()
      .int()
      .min(100)
      .default(15_000)
      .describe(
        "The ignition counts as on while the CAN bus carries traffic, and as off after this long without a frame.",
      ),
    gnssTimeMaxAgeMs: z
      .number()
      .int()
      .min(1000)
      .default(120_000)
      .describe(
        "Timestamps follow the last GNSS time (carried forward on the monotonic clock) for this long; after that, the system clock, marked timeSource system.",
      ),
    gnssMaxJumpMs: z
      .number()
      .int()
      .min(1000)
      .default(10_000)
      .describe(
        "A GNSS time further than this from the clock (the last trusted time plus monotonic time) is taken only when the next valid fix agrees with it.",
      ),
    gnssNotBefore: z
      .string()
      .datetime()
      .optional()
      .describe(
        "GNSS dates before this are GPS week-number rollovers (corrected by 1024-week steps) or refused; default: the agent's release floor.",
      ),
    sources: z
      .partialRecord(EngineSchema.keyof(), z.array(z.number().int().min(0).max(2047)).max(16))
      .default({})
      .describe(
        "Per engine field, the sources to take it from, best first: J1939 source addresses (0-255) or OBD-II reply ids (0x7E8 = 2024). Replaces that field's default (engine speed, torque, coolant, fuel rate, engine hours, total fuel, oil pressure: [0]; totalDistanceKm: [23, 238]; other fields: none); unlisted sources rank after, first heard first.",
      ),
    sourceSettleMs: z
      .number()
      .int()
      .min(0)
      .default(2_000)
      .describe(
        "After a signal is first heard, wait this long for its preferred source before taking another (so a record does not start on one ECU and switch at once).",
      ),
    dtcDebounceMs: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe(
        "A trouble code is raised once its ECU has listed it for this long, and cleared once its ECU has stopped listing it for this long: a code that comes and goes within it makes no event pair.",
      ),
  })
  .strict();

export type StateConfig = z.infer<typeof StateConfigSchema>;
