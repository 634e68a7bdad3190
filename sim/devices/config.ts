import { z } from "zod";
import { parseConfig } from "../../common/config.ts";
import { FleetError } from "../../common/errors.ts";
import { TruckIdSchema } from "../../protocol/index.ts";

export const CanDeviceKindSchema = z
  .enum(["slcan", "elm327", "none"])
  .describe("How the CAN device speaks: SLCAN (Lawicel) lines, ELM327 monitor lines, or no CAN device.");

export const DeviceTruckSchema = z
  .object({
    truckId: TruckIdSchema,
    seed: z.union([z.string(), z.number()]).optional().describe("PRNG seed; default: the truck id."),
    can: CanDeviceKindSchema.default("slcan"),
    gps: z.boolean().default(true).describe("Whether the truck has a GPS device."),
    nmeaHz: z.number().int().min(1).max(10).default(1).describe("GNSS epochs per second."),
    faults: z
      .array(z.object({ spn: z.number().int(), fmi: z.number().int(), oc: z.number().int() }))
      .default([])
      .describe("Trouble codes active for the whole run."),
    ecus: z
      .enum(["engine", "multi"])
      .default("engine")
      .describe(
        "engine: one ECU sends everything; multi: also the cluster (SA 23, its own odometer, empty DM1) and the transmission (SA 3, empty DM1).",
      ),
    canBaudRate: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "The CAN adapter's UART speed (an ELM327 clone: 38400; an STN chip or an FTDI SLCAN adapter: their own). A reader whose port is set to another speed gets nothing understood and reads garbage (device-fleet.ts says how this is modelled on a pty). Unset: a USB CDC ACM device (CANable), which works at any speed.",
      ),
    elm: z
      .object({
        chip: z
          .enum(["elm327", "stn"])
          .default("elm327")
          .describe("A genuine ELM327 v1.5, or an STN11xx (OBDLink) that also answers the ST commands."),
        ignore: z
          .array(z.string().regex(/^[0-9A-Z@]+$/))
          .default([])
          .describe("AT commands (without AT) this ELM327 clone answers with ?, e.g. JHF0, CAF0."),
        rxErrorEvery: z
          .number()
          .int()
          .min(0)
          .default(1000)
          .describe("Every n-th frame comes with <RX ERROR (a bus bit error), as real buses have; 0 = never."),
      })
      .strict()
      .default({ chip: "elm327", ignore: [], rxErrorEvery: 1000 }),
  })
  .strict();

export const DeviceFleetOptionsSchema = z
  .object({
    dir: z.string().min(1).describe("Folder for the device links (<truckId>.gps, <truckId>.can)."),
    trucks: z.array(DeviceTruckSchema).min(1).max(500),
    tickMs: z.number().int().min(5).max(200).default(20).describe("How often devices write, ms."),
    startTimeMs: z.number().int().min(0).optional().describe("GNSS time at start; default: now, whole second."),
    timeScale: z
      .number()
      .min(1)
      .max(1000)
      .default(1)
      .describe(
        "Simulated time runs this many times faster than the wall clock (scripted scenarios); agents reading these devices need the same clock.timeScale.",
      ),
    maxPendingBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024)
      .describe("Per device: output waiting for the reader above this is dropped and counted (UART overrun)."),
  })
  .strict();

export type DeviceFleetOptions = z.input<typeof DeviceFleetOptionsSchema>;
export type DeviceFleetConfig = z.output<typeof DeviceFleetOptionsSchema>;

export function parseDeviceFleetOptions(options: DeviceFleetOptions): DeviceFleetConfig {
  const data = parseConfig(DeviceFleetOptionsSchema, options, "sim device options");
  const ids = new Set<string>();
  for (const t of data.trucks) {
    if (ids.has(t.truckId))
      throw new FleetError("FLEET_CONFIG_INVALID", `sim device option trucks: ${t.truckId} twice`);
    ids.add(t.truckId);
  }
  return data;
}
