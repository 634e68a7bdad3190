/**
 * The start-up self-check of the broker port. Everything in bridge/broker/ that reaches past Aedes' and
 * mqtt-packet's public API (the connection's `_parser`, its `settings`, the process-wide `writeToStream`) was
 * written against Aedes 1.x and mqtt-packet 9.x. On any other version, or when those internals are not shaped as
 * expected, the bridge refuses to start with FLEET_ENGINE_UNSUPPORTED naming what it found: silently running
 * without the packet-size guard or with a half-working MQTT 5 adapter would be worse than not running.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { Aedes } from "aedes";
import mqttPacket from "mqtt-packet";
import { FleetError } from "../../common/errors.ts";

/** The major versions whose internals this folder was written for. */
export const SUPPORTED_ENGINES = { aedes: 1, "mqtt-packet": 9 } as const;

export interface EngineFacts {
  versions: Record<keyof typeof SUPPORTED_ENGINES, string>;
  /** A connection object as Aedes makes it (its `_parser` is what the guard and the MQTT 5 adapter use). */
  client: unknown;
  writeToStream: unknown;
}

const require = createRequire(import.meta.url);

/** The version in the package's own package.json (aedes' `exports` do not expose it): found above its entry file. */
function installedVersion(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === name && manifest.version) return manifest.version;
    } catch {
      // no package.json here: look one folder up
    }
  }
  return "unknown";
}

/** Looks at the installed engines: their versions and one real connection object from a throwaway Aedes. */
export function probeEngines(): EngineFacts {
  const aedes = new Aedes();
  const stream = new PassThrough();
  try {
    const client = aedes.handle(stream);
    return {
      versions: { aedes: installedVersion("aedes"), "mqtt-packet": installedVersion("mqtt-packet") },
      client,
      writeToStream: mqttPacket.writeToStream,
    };
  } finally {
    stream.destroy();
    aedes.close();
  }
}

/** Throws FLEET_ENGINE_UNSUPPORTED unless the engines are the versions, and have the internals, this port uses. */
export function checkEngines(facts: EngineFacts = probeEngines()): void {
  const problems: string[] = [];
  for (const [name, major] of Object.entries(SUPPORTED_ENGINES) as [keyof typeof SUPPORTED_ENGINES, number][]) {
    const version = facts.versions[name];
    if (Number(version.split(".")[0]) !== major) problems.push(`${name} ${version} is installed, expected ${major}.x`);
  }
  const parser = (facts.client as { _parser?: { parse?: unknown; settings?: unknown; on?: unknown } } | undefined)
    ?._parser;
  if (typeof parser?.parse !== "function") problems.push("an Aedes connection has no _parser.parse()");
  // The read guard replaces one connection's parse() and calls its class's own (broker.ts, guardedParse).
  else if ((Object.getPrototypeOf(parser) as { parse?: unknown } | null)?.parse !== parser.parse)
    problems.push("an Aedes connection's _parser.parse() is not its class's method");
  if (typeof parser?.on !== "function") problems.push("an Aedes connection's _parser is not an event emitter");
  if (typeof parser?.settings !== "object") problems.push("an Aedes connection's _parser has no settings");
  if (typeof facts.writeToStream !== "function") problems.push("mqtt-packet has no writeToStream()");
  if (problems.length === 0) return;
  const found = Object.entries(facts.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ");
  throw new FleetError(
    "FLEET_ENGINE_UNSUPPORTED",
    `the MQTT broker engine is not what bridge/broker/ was written for (found ${found}; expected aedes 1.x, ` +
      `mqtt-packet 9.x): ${problems.join("; ")}`,
    { details: { versions: facts.versions, problems } },
  );
}
