import { z } from "zod";

/**
 * When a telemetry record is taken. Defaults suit a heavy truck on cellular data: a record every 5 s while
 * moving, every 5 min while parked, and sooner on a turn, a speed change or distance (so a map trace keeps its
 * corners without paying for 1 Hz on a straight motorway).
 */
export const SamplerConfigSchema = z
  .object({
    movingPeriodMs: z.number().int().min(0).default(5_000).describe("Longest gap between records while moving."),
    parkedPeriodMs: z.number().int().min(0).default(300_000).describe("Longest gap between records while parked."),
    movingSpeedKmh: z.number().min(0).default(5).describe("At or above this speed the truck counts as moving."),
    distanceM: z.number().min(0).default(200).describe("A record after this many metres travelled (0 = off)."),
    headingDeg: z.number().min(0).max(180).default(15).describe("A record on a heading change of this much (0 = off)."),
    speedDeltaKmh: z
      .number()
      .min(0)
      .default(15)
      .describe("A record when speed changed this much since the last one (0 = off)."),
    minIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe("Never two records closer than this (caps the rate whatever the triggers say)."),
    tickMs: z.number().int().min(10).default(1_000).describe("How often periods are checked when no fix arrives."),
  })
  .strict();

export type SamplerConfig = z.infer<typeof SamplerConfigSchema>;
