import { z } from "zod";
import { parseConfig } from "../../common/config.ts";
import { J1939DtcSchema } from "../../protocol/index.ts";

const range = (min: number, max: number, doc: string) =>
  z
    .tuple([z.number().min(min).max(max), z.number().min(min).max(max)])
    .refine(([a, b]) => a <= b, { message: "the first value must not exceed the second" })
    .describe(doc);

/** Options of one simulated truck. Defaults give a delivery truck in town and on a ring road. */
export const TruckModelOptionsSchema = z
  .object({
    seed: z.union([z.string(), z.number()]).describe("Seed of the truck's PRNG: the same seed drives the same route."),
    startTimeMs: z
      .number()
      .int()
      .min(0)
      .default(Date.UTC(2026, 0, 5, 6, 0, 0))
      .describe("GNSS UTC time (ms since the epoch) at simulation time 0. The CLI passes the wall clock."),
    startLat: z.number().min(-85).max(85).optional().describe("Start latitude; default: near Rotterdam, per seed."),
    startLon: z.number().min(-180).max(180).optional().describe("Start longitude; default: near Rotterdam, per seed."),
    cruiseKmh: range(10, 120, "Cruising speeds a leg picks from, km/h.").default([40, 90]),
    legM: range(50, 50_000, "Leg lengths between stops or turns, metres.").default([300, 2500]),
    stopS: range(0, 600, "How long a stop (traffic light, delivery) lasts, seconds.").default([5, 40]),
    parkS: range(0, 86_400, "How long the truck stays parked with the ignition off, seconds.").default([20, 90]),
    parkChance: z.number().min(0).max(1).default(0.1).describe("Chance that a leg ends in parking (0: never)."),
    massKg: z.number().min(3000).max(60_000).default(25_000).describe("Gross mass, kg."),
    tankL: z.number().min(50).max(2000).default(400).describe("Fuel tank size, litres."),
    faultsPerHour: z.number().min(0).max(3600).default(2).describe("Rate at which random trouble codes appear."),
    faults: z
      .array(J1939DtcSchema)
      .max(64)
      .default([])
      .describe("Trouble codes active for the whole run (two or more make DM1 a multi-packet BAM message)."),
    startParked: z.boolean().default(false).describe("Begin parked with the ignition off instead of idling."),
  })
  .strict();

export type TruckModelOptions = z.input<typeof TruckModelOptionsSchema>;
export type TruckModelConfig = z.output<typeof TruckModelOptionsSchema>;

export function parseTruckModelOptions(options: TruckModelOptions): TruckModelConfig {
  return parseConfig(TruckModelOptionsSchema, options, "truck model options");
}
