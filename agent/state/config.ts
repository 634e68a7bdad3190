import { z } from "zod";

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
  })
  .strict();

export type StateConfig = z.infer<typeof StateConfigSchema>;
