/**
 * What every subcommand module shares: its signature and the argument parser. The table of subcommands is in
 * main.ts, the one module that loads them, so no subcommand imports the module that imports it.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { FleetError } from "../common/errors.ts";

/** A subcommand's module: `run` gets the arguments after the subcommand name and returns the exit code. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

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
