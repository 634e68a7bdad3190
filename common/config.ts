/**
 * The one way a configuration is validated and a validation failure is reported (conventions, 5): the caller's
 * object is never mutated, and FLEET_CONFIG_INVALID names the source (a file, or what is being configured) and
 * each bad field, so an operator can fix them all in one go. Every config validator in FleetSync goes through here.
 */
import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { FleetError } from "./errors.ts";

/** At most this many problems are spelled out in the message; details.issues has them all. */
const SHOWN = 5;

/** `${source}: a.b: message; c: message`: FLEET_CONFIG_INVALID for the issues zod found. */
export function configError(source: string, issues: readonly z.core.$ZodIssue[]): FleetError {
  const listed = issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  const shown = listed.slice(0, SHOWN).map(({ field, message }) => `${field}: ${message}`);
  if (listed.length > SHOWN) shown.push(`and ${listed.length - SHOWN} more`);
  return new FleetError("FLEET_CONFIG_INVALID", `${source}: ${shown.join("; ")}`, {
    details: { source, field: listed[0]?.field, issues: listed },
  });
}

/** Validates without touching the caller's object; the error names the field and the source. */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw configError(source, parsed.error.issues);
}

/** Reads a JSON configuration file; a missing or unparsable file is FLEET_CONFIG_INVALID naming the file. */
export async function readConfigJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new FleetError("FLEET_CONFIG_INVALID", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}
