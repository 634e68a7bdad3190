/**
 * `fleetsync config`: the fleet office's side of remote configuration (issue 19). `set` validates with the schema
 * the agent uses (protocol/remote-config.ts), assigns the next version and writes the desired config to fleet.config;
 * `get` prints a truck's desired config; `delete` writes the tombstone (the truck goes back to its local file);
 * `status` compares desired and applied versions per truck, from fleet.config and fleet.status.
 */
import { readFile } from "node:fs/promises";
import { FleetError } from "../common/errors.ts";
import {
  assertTruckId,
  checkRemoteConfig,
  DEFAULT_CONFIG_TOPIC,
  DEFAULT_KAFKA_TOPICS,
  REMOTE_CONFIG_MAX_BYTES,
} from "../protocol/index.ts";
import { parseCommandArgs } from "./commands.ts";
import {
  type ConfigKafkaOptions,
  configKafka,
  readDesired,
  readReported,
  type Reported,
  writeDesired,
} from "./config-kafka.ts";

const USAGE = `Usage: fleetsync config <set|get|delete|status> [options]
  config set TRUCK --file F   validate F (the settings that may change remotely, docs/operations.md) and make it
                              TRUCK's desired config; prints the new version. Nothing is written when F is invalid.
  config get TRUCK            print TRUCK's desired config (JSON)
  config delete TRUCK         remove TRUCK's override (tombstone): the truck goes back to its local file
  config status [--json]      per truck: desired vs applied version, online/offline, the last rejection and why
Options: --brokers LIST (default $KAFKA_BROKERS or 127.0.0.1:39092), --topic T (default ${DEFAULT_CONFIG_TOPIC}),
         --status-topic T (default ${DEFAULT_KAFKA_TOPICS.status})
`;

const OPTIONS = {
  file: { type: "string" },
  brokers: { type: "string" },
  topic: { type: "string" },
  "status-topic": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Parses the operator's file: the settings, optionally with this truck's id; the version is assigned here. */
export function settingsFrom(text: string, file: string, truckId: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FleetError("FLEET_CONFIG_INVALID", `${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FleetError("FLEET_CONFIG_INVALID", `${file}: (root): expected a JSON object of settings`);
  }
  const { version, truckId: named, ...settings } = value as Record<string, unknown>;
  if (version !== undefined) {
    throw new FleetError("FLEET_CONFIG_INVALID", `${file}: version: assigned by \`config set\`, leave it out`, {
      details: { field: "version" },
    });
  }
  if (named !== undefined && named !== truckId) {
    throw new FleetError("FLEET_CONFIG_INVALID", `${file}: truckId: names ${String(named)}, not ${truckId}`, {
      details: { field: "truckId" },
    });
  }
  return settings;
}

/** The version a desired value claims, valid or not (an invalid one still used its number). */
function versionOf(text: string | undefined): number {
  if (text === undefined) return 0;
  try {
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return Number.isSafeInteger(version) && (version as number) > 0 ? (version as number) : 0;
  } catch {
    return 0;
  }
}

async function set(truckId: string, file: string, options: ConfigKafkaOptions): Promise<number> {
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw new FleetError("FLEET_CONFIG_INVALID", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  });
  const settings = settingsFrom(text, file, truckId);
  // Validated before Kafka is asked anything: a bad file fails the same with Kafka down.
  const draft = checkRemoteConfig(JSON.stringify({ truckId, version: 1, ...settings }), truckId);
  if (!draft.ok) throw new FleetError("FLEET_CONFIG_INVALID", `${file}: ${draft.reason}`);
  const kafka = configKafka(options);
  const [desired, reported] = await Promise.all([readDesired(kafka, options), readReported(kafka, options)]);
  // Above both what was last desired and what the truck last applied: a tombstone (or compaction) must not make a
  // version come round again, or the truck would take the new config for one it already runs.
  const applied = reported.get(truckId)?.config?.appliedConfigVersion ?? 0;
  const version = Math.max(versionOf(desired.get(truckId)), applied) + 1;
  const value = JSON.stringify({ truckId, version, setAt: new Date().toISOString(), ...settings });
  const check = checkRemoteConfig(value, truckId);
  if (!check.ok) throw new FleetError("FLEET_CONFIG_INVALID", `${file}: ${check.reason}`);
  if (Buffer.byteLength(value) > REMOTE_CONFIG_MAX_BYTES) {
    throw new FleetError("FLEET_PAYLOAD_TOO_LARGE", `${file}: larger than ${REMOTE_CONFIG_MAX_BYTES} bytes`);
  }
  await writeDesired(kafka, options.configTopic, truckId, value);
  process.stdout.write(`${JSON.stringify({ truckId, version })}\n`);
  return 0;
}

async function get(truckId: string, options: ConfigKafkaOptions): Promise<number> {
  const desired = await readDesired(configKafka(options), options);
  const text = desired.get(truckId);
  if (text === undefined) {
    process.stderr.write(`fleetsync config: no desired config for ${truckId} (it runs on its local file)\n`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}

async function remove(truckId: string, options: ConfigKafkaOptions): Promise<number> {
  await writeDesired(configKafka(options), options.configTopic, truckId, null);
  process.stdout.write(`${JSON.stringify({ truckId, removed: true })}\n`);
  return 0;
}

export interface TruckConfigStatus {
  truckId: string;
  desiredVersion: number | null;
  appliedVersion: number | null;
  /** desired === applied (a truck with neither is in sync too). */
  inSync: boolean;
  state: "online" | "offline" | null;
  rejected: { version: number | null; reason: string; at: string } | null;
}

export function configStatus(desired: Map<string, string>, reported: Map<string, Reported>): TruckConfigStatus[] {
  const trucks = [...new Set([...desired.keys(), ...reported.keys()])].sort();
  return trucks.map((truckId) => {
    const desiredVersion = desired.has(truckId) ? versionOf(desired.get(truckId)) : null;
    const r = reported.get(truckId);
    const appliedVersion = r?.config?.appliedConfigVersion ?? null;
    return {
      truckId,
      desiredVersion,
      appliedVersion,
      inSync: (desiredVersion ?? 0) === (appliedVersion ?? 0),
      state: r?.latest.state ?? null,
      rejected: r?.config?.configRejected ?? null,
    };
  });
}

async function status(json: boolean, options: ConfigKafkaOptions): Promise<number> {
  const kafka = configKafka(options);
  const [desired, reported] = await Promise.all([readDesired(kafka, options), readReported(kafka, options)]);
  const rows = configStatus(desired, reported);
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  const show = (n: number | null) => (n === null ? "-" : String(n));
  const lines = rows.map((r) =>
    [
      r.truckId.padEnd(20),
      show(r.desiredVersion).padStart(8),
      show(r.appliedVersion).padStart(8),
      (r.inSync ? "yes" : "no").padEnd(5),
      (r.state ?? "-").padEnd(8),
      r.rejected ? `v${show(r.rejected.version)}: ${r.rejected.reason}` : "",
    ].join(" "),
  );
  process.stdout.write(
    `${["truck".padEnd(20), "desired".padStart(8), "applied".padStart(8), "sync ", "state   ", "last rejection"].join(" ")}\n${lines.join("\n")}\n`,
  );
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === "-h" || action === "--help") {
    process.stdout.write(USAGE);
    return action === undefined ? 2 : 0;
  }
  const { values, positionals } = parseCommandArgs(rest, { options: OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options: ConfigKafkaOptions = {
    brokers: (values.brokers ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",").map((b) => b.trim()),
    configTopic: values.topic ?? DEFAULT_CONFIG_TOPIC,
    statusTopic: values["status-topic"] ?? DEFAULT_KAFKA_TOPICS.status,
  };
  const truck = () => {
    if (positionals.length !== 1) throw new FleetError("FLEET_USAGE", `config ${action} needs one TRUCK`);
    return assertTruckId(positionals[0], "TRUCK");
  };
  switch (action) {
    case "set":
      if (!values.file) throw new FleetError("FLEET_USAGE", "config set needs --file F");
      return set(truck(), values.file, options);
    case "get":
      return get(truck(), options);
    case "delete":
      return remove(truck(), options);
    case "status":
      if (positionals.length > 0) throw new FleetError("FLEET_USAGE", "config status takes no TRUCK");
      return status(values.json, options);
    default:
      throw new FleetError("FLEET_USAGE", `unknown config action '${action}' (set, get, delete, status)`);
  }
}
