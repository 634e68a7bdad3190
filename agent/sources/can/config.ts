import { z } from "zod";
import { SerialLineConfigSchema } from "../serial/config.ts";

/** Linux interface names are at most 15 characters (IFNAMSIZ 16 with the terminating NUL). */
const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

export const CanSourceConfigSchema = SerialLineConfigSchema.extend({
  path: z
    .string()
    .min(1)
    .optional()
    .describe("The adapter's serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/... (every format but socketcan)."),
  baudRate: z.number().int().positive().default(115200).describe("Serial speed to the adapter (not the CAN bitrate)."),
  format: z
    .enum(["slcan", "elm327", "candump", "auto", "socketcan"])
    .default("auto")
    .describe(
      "Adapter line format; auto listens first, then tries the SLCAN listen-only open, then ELM327 monitor mode. socketcan: a CAN network interface (a Pi CAN HAT, a candleLight/gs_usb stick), read through can-utils' candump -L.",
    ),
  interface: z
    .string()
    .regex(INTERFACE_NAME)
    .optional()
    .describe(
      "format socketcan: the CAN network interface, e.g. can0 (set up and listen-only: docs/installer-guide.md).",
    ),
  allowActiveInterface: z
    .boolean()
    .default(false)
    .describe(
      "format socketcan: read an interface that is not in listen-only mode. Off, the agent refuses to start on one (design promise 5): candump only receives, but a CAN controller that is not listen-only acknowledges every frame and sends error frames on the bus. Turn on only on purpose, e.g. a bench bus with no other node to acknowledge.",
    ),
  candumpPath: z
    .string()
    .min(1)
    .default("candump")
    .describe("format socketcan: the candump program (Debian package can-utils), looked up on PATH."),
  ipPath: z
    .string()
    .min(1)
    .default("ip")
    .describe("format socketcan: the ip program (iproute2) that reports the interface's state and mode."),
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
})
  .strict()
  .superRefine((c, ctx) => {
    if (c.format === "socketcan") {
      if (c.interface === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["interface"],
          message: "format socketcan needs an interface, e.g. can0",
        });
      if (c.path !== undefined)
        ctx.addIssue({ code: "custom", path: ["path"], message: "format socketcan reads an interface, not a path" });
    } else if (c.path === undefined) {
      ctx.addIssue({ code: "custom", path: ["path"], message: `format ${c.format} needs the adapter's serial path` });
    }
  });

export type CanSourceConfig = z.input<typeof CanSourceConfigSchema>;
export type CanSourceSettings = z.output<typeof CanSourceConfigSchema>;
