/**
 * `fleetsync`: one program for the truck and the cloud. Each subcommand lives in its own module and is loaded only
 * when called, so `fleetsync decode` on a Pi never loads Kafka or Aedes.
 */
import { createRequire } from "node:module";
import { FleetError, isFleetError } from "../common/errors.ts";
import type { CommandModule } from "./commands.ts";

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
    name: "config",
    summary: "set, get and follow trucks' remote configuration (fleet.config -> trucks -> fleet.status)",
    load: () => import("./config.ts"),
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

const require = createRequire(import.meta.url);

function version(): string {
  // Works from the source tree (cli/) and from the build (dist/cli/).
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === "fleetsync" && pkg.version) return pkg.version;
    } catch {}
  }
  return "unknown";
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: fleetsync <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Options:",
    "  -h, --help     show help (also `fleetsync <command> --help`)",
    "  -v, --version  print the version",
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version") {
    process.stdout.write(`fleetsync ${version()}\n`);
    return 0;
  }
  if (first.startsWith("-")) {
    process.stderr.write(`fleetsync: unknown option '${first}'\n\n${usage()}`);
    return 2;
  }
  const command: Command | undefined = commands.find((c) => c.name === first);
  if (!command) {
    process.stderr.write(`fleetsync: unknown command '${first}'\n\n${usage()}`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (error) {
    if (isFleetError(error, "FLEET_USAGE")) {
      process.stderr.write(`fleetsync ${command.name}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof FleetError) {
      process.stderr.write(`fleetsync ${command.name}: ${error.message} [${error.code}]\n`);
      return 1;
    }
    throw error;
  }
}
