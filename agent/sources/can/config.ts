import { z } from "zod";
import { SerialLineConfigSchema } from "../serial/config.ts";

export const CanSourceConfigSchema = SerialLineConfigSchema.extend({
  baudRate: z.number().int().positive().default(115200).describe("Serial speed to the adapter (not the CAN bitrate)."),
  format: z
    .enum(["slcan", "elm327", "candump", "auto"])
    .default("auto")
    .describe(
      "Adapter line format; auto listens first, then tries the SLCAN listen-only open, then ELM327 monitor mode.",
    ),
  bitrate: z
    .number()
    .int()
    .positive()
    .default(250_000)
    .describe("CAN bus bitrate: 250000 for J1939 trucks, 500000 for most OBD-II cars."),
  elmProtocol: z
    .string()
    .regex(/^[0-9A-C]$/)
    .optional()
    .describe("ELM327 AT SP protocol; default A (J1939) at 250 kbit/s, 6 (11-bit 500 kbit/s) otherwise."),
  commandTimeoutMs: z.number().int().min(50).default(1_500).describe("How long to wait for an adapter's reply."),
  detectMs: z.number().int().min(50).default(1_500).describe("How long auto-detection listens at each step."),
  detectRetryMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe(
      "Auto-detection that found no format tries again after this long, for as long as the port stays open (an adapter powered before the ignition, a bus that wakes up later).",
    ),
  transportTimeoutMs: z
    .number()
    .int()
    .min(50)
    .default(750)
    .describe("J1939-21 T1: a BAM session idle this long is dropped."),
  maxTransportSessions: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(64)
    .describe("Open BAM/RTS sessions kept; oldest dropped."),
}).strict();

export type CanSourceConfig = z.input<typeof CanSourceConfigSchema>;
export type CanSourceSettings = z.output<typeof CanSourceConfigSchema>;
