/**
 * The agent's configuration file (JSON, written by `fleetsync provision`). One schema with defaults; the field
 * docs are the configuration reference (docs/agent-config.md). Validation errors name the field and the file.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { parseConfig } from "../common/config.ts";
import { FleetError } from "../common/errors.ts";
import { TruckIdSchema } from "../protocol/index.ts";
import { OutboxConfigSchema } from "./outbox/index.ts";
import { RemoteConfigSettingsSchema } from "./remote-config/config.ts";
import { SamplerConfigSchema } from "./sampler/index.ts";
import { CanSourceConfigSchema, GpsSourceConfigSchema } from "./sources/index.ts";
import { StateConfigSchema } from "./state/index.ts";
import { UplinkConfigSchema } from "./uplink/index.ts";

export const AgentConfigSchema = z
  .object({
    truckId: TruckIdSchema,
    gps: GpsSourceConfigSchema.optional().describe("The GPS receiver's serial port (NMEA 0183). Absent: no GPS."),
    can: CanSourceConfigSchema.optional().describe(
      "The CAN adapter's serial port (SLCAN, ELM327 or candump text; listen-only). Absent: no engine data.",
    ),
    broker: UplinkConfigSchema.describe("The MQTT broker (the FleetSync bridge) and how to talk to it."),
    outbox: OutboxConfigSchema.describe("The on-disk outbox."),
    sampler: SamplerConfigSchema.default(SamplerConfigSchema.parse({})).describe("When records are taken."),
    state: StateConfigSchema.default(StateConfigSchema.parse({})).describe(
      "Ageing of fix and engine values, ignition.",
    ),
    clock: z
      .object({
        timeScale: z
          .number()
          .min(0.01)
          .max(1000)
          .default(1)
          .describe(
            "For simulation and replay of recorded logs only: the agent's monotonic clock runs this many times faster, so a simulated receiver whose time runs that much faster (sim/devices `timeScale`, the scripted scenarios) passes the GNSS-time guard, and the sampler, ageing, debounce and ignition timers run in the receiver's time; state.gnssMaxJumpMs is in that time too. Keep 1 on a truck.",
          ),
      })
      .strict()
      .default({ timeScale: 1 })
      .describe("The agent's clock (simulation and replay only)."),
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().default("127.0.0.1").describe("Listen address; loopback keeps it off the cellular side."),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(9108)
          .describe("Prometheus text at http://host:port/metrics (0 = any free port)."),
      })
      .strict()
      .default({ enabled: true, host: "127.0.0.1", port: 9108 })
      .describe("The local metrics endpoint."),
    remoteConfig: RemoteConfigSettingsSchema.prefault({}).describe(
      "Remote configuration from the fleet office (fleet.config): an overlay on this file, never ports, " +
        "credentials, broker addresses or anything that could transmit on the CAN bus.",
    ),
  })
  .strict();

export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** Validates a parsed config object; the error names the first bad field (and the file, when given). */
export function parseAgentConfig(input: unknown, file?: string): AgentConfig {
  return parseConfig(AgentConfigSchema, input, file ? `agent configuration ${file}` : "agent configuration");
}

export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new FleetError(
      "FLEET_CONFIG_INVALID",
      `cannot read configuration file ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FleetError(
      "FLEET_CONFIG_INVALID",
      `configuration file ${file} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseAgentConfig(json, file);
}
