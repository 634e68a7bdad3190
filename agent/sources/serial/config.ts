import { z } from "zod";

export const SerialLineConfigSchema = z
  .object({
    path: z.string().min(1).describe("Serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/..."),
    baudRate: z.number().int().positive().describe("Line speed in bit/s (GPS: usually 4800 or 9600)."),
    maxLineBytes: z
      .number()
      .int()
      .min(16)
      .max(65_536)
      .default(512)
      .describe("Longest line kept; a longer one is cut, counted as tooLong and skipped up to the next line end."),
    reconnectMinMs: z.number().int().min(10).default(250).describe("First wait before reopening a lost device."),
    reconnectMaxMs: z
      .number()
      .int()
      .min(10)
      .default(5_000)
      .describe("Longest wait between reopen attempts (the wait doubles from reconnectMinMs up to this)."),
    presenceCheckMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(1_000)
      .describe(
        "How often an open port checks that its path still names the device it opened. A device that goes away is noticed at once when the kernel hangs the tty up, and within this time at the latest.",
      ),
    logRepeatMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        "A repeated warning (line cut, port cannot be opened) is logged at most once per this interval, with the count of the ones not logged.",
      ),
  })
  .strict();

export type SerialLineConfig = z.input<typeof SerialLineConfigSchema>;
export type SerialLineSettings = z.output<typeof SerialLineConfigSchema>;

/** The config formatter lives in common/config.ts; re-exported so the sources' imports stay as they are. */
export { parseConfig } from "../../../common/config.ts";
