import { z } from "zod";
import { SerialLineConfigSchema } from "../serial/config.ts";

export const GpsSourceConfigSchema = SerialLineConfigSchema.extend({
  baudRate: z
    .number()
    .int()
    .positive()
    .default(9600)
    .describe("GPS line speed (NMEA 0183 default is 4800; most modules use 9600)."),
  maxLineBytes: z
    .number()
    .int()
    .min(90)
    .max(4096)
    .default(256)
    .describe("Longest NMEA line kept (the standard's is 82)."),
  epochIdleMs: z
    .number()
    .int()
    .min(20)
    .default(300)
    .describe(
      "A receiver quiet this long has finished its epoch: the fix is emitted without waiting for the next one.",
    ),
}).strict();

export type GpsSourceConfig = z.input<typeof GpsSourceConfigSchema>;
