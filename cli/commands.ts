import { type ParseArgsConfig, parseArgs } from "node:util";
import { FleetError } from "../common/errors.ts";

/** A subcommand's module: `run` gets the arguments after the subcommand name and returns the exit code. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

/** The table of subcommands; each module is imported only when its command runs. */
export const commands: Command[] = [
  {
    name: "agent",
    summary: "run the truck gateway (serial sources -> outbox -> MQTT)",
    load: () => import("./agent.ts"),
  },
  {
    name: "bridge",
    summary: "run the MQTT broker that writes every record to Kafka",
    load: () => import("./bridge.ts"),
  },
  {
    name: "detect",
    summary: "raise alerts (idling, silence, fuel, trouble codes, geofences) into fleet.alerts",
    load: () => import("./detect.ts"),
  },
  { name: "decode", summary: "decode an NMEA or CAN capture into JSON Lines", load: () => import("./decode.ts") },
  {
    name: "history",
    summary: "write every record into PostgreSQL exactly once; query it",
    load: () => import("./history.ts"),
  },
  { name: "map", summary: "serve the live fleet map (Kafka -> browser)", load: () => import("./map.ts") },
  { name: "doctor", summary: "check a gateway's serial ports, GPS, CAN and broker", load: () => import("./doctor.ts") },
  { name: "provision", summary: "write a truck's configuration file", load: () => import("./provision.ts") },
  {
    name: "replay",
    summary: "rewind a stopped pipeline's consumer group (by time or offset)",
    load: () => import("./replay.ts"),
  },
  { name: "sim", summary: "simulate trucks (serial devices or MQTT load)", load: () => import("./sim.ts") },
  { name: "verify", summary: "check a Kafka topic for loss, duplicates and order", load: () => import("./verify.ts") },
];

/**
 * parseArgs with FleetSync's error contract: an unknown flag or a missing value becomes FLEET_USAGE (exit code 2)
 * with the library's message, which names the flag.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(argv: string[], config: T) {
  try {
    return parseArgs({ ...config, args: argv, strict: true });
  } catch (error) {
    throw new FleetError("FLEET_USAGE", (error as Error).message, { cause: error });
  }
}
