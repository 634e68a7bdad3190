/**
 * `fleetsync sim devices`: simulated trucks on pseudo-terminals that real agents read (GPS NMEA + SLCAN/ELM327).
 * `fleetsync sim load`: many light MQTT connections publishing protocol payloads directly, for scale tests.
 * `fleetsync sim scenario`: scripted trucks (idling, silence, siphoning, trouble codes, geofences) for the detectors,
 * published through the bridge on a faster-than-real-time clock.
 */
import { readFile, writeFile } from "node:fs/promises";
import { FleetError } from "../common/errors.ts";
import { createLogger } from "../common/log.ts";
import { createDeviceFleet } from "../sim/devices/device-fleet.ts";
import { createLoadRun } from "../sim/load/load-run.ts";
import { FAULT_CATALOG } from "../sim/model/faults.ts";
import { planScenarioFleet, scenarioFleetFences } from "../sim/scenarios/fleet.ts";
import { runScenarios } from "../sim/scenarios/scenario-run.ts";
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from "../sim/scenarios/scenarios.ts";
import { parseCommandArgs } from "./commands.ts";

const USAGE = `Usage:
  fleetsync sim devices [options]   trucks on pseudo-terminals (needs socat); runs until Ctrl-C
      --trucks N          number of trucks (default 3)
      --prefix P          truck ids P-001, P-002, ... (default truck)
      --dir DIR           folder for the device links (default /tmp/fleetsync-sim)
      --can KIND          slcan | elm327 | stn | mixed (alternate slcan, elm327) | none (default slcan)
      --can-baud N        the CAN adapter's UART speed; a reader at another speed reads garbage
                          (default 38400 for elm327 and stn, as the chips ship; any speed for slcan)
      --nmea-hz N         GNSS epochs per second, 1-10 (default 1)
      --faults N          trouble codes active on every truck (2+ makes DM1 multi-packet; default 0)
      --ecus KIND         engine (one ECU) | multi (also cluster SA 23 with its own odometer, transmission SA 3)
      --elm-ignore CMDS   the ELM327 is a clone that answers ? to these, e.g. JHF0,CAF0
      --duration S        stop after S seconds
      --json              print the device paths as JSON
  fleetsync sim load [options]      MQTT load: one connection per truck, protocol payloads, QoS 1
      --url URL           broker (default mqtt://127.0.0.1:1883)
      --trucks N          connections (default 100)       --prefix P   truck ids (default sim)
      --rate R            records per second per truck (default 1)   --period P   or one record every P seconds
      --batch B           records per publish (default 1)
      --records N         records per truck, then stop    --duration S  or stop after S seconds
      --ramp R            new connections per second (default 50)
      --inflight W        unacknowledged publishes per truck (default 1)
      --password X | --password-file F   (file: one password, or JSON {"truckId": "password"})
      --format F          binary | json (default binary)
      --sources N|LIST    connect from N loopback addresses (127.0.1.1, 127.0.1.2, ...) or from the listed
                          addresses, round robin: each has its own ephemeral ports (mqtt:// only)
      --no-spread         publish on each truck's connect time instead of evenly over the period
      --storm-at S        reconnect storm: at S seconds every truck drops and reconnects at once, then drains
      --storm-backlog S   a backlog of S seconds of records each (default 600)
      --storm-batch B     records per publish while draining (default 100)
      --json              progress as JSON lines on stderr
  fleetsync sim scenario [options]  scripted trucks for the detectors, faster than real time, through the bridge
      --name NAME         idle | silent | siphon | dtc | geofence | all (default all: one truck each)
      --trucks N          trucks (default: one per scenario); truck i follows scenario i mod the chosen ones
      --speed X           simulated seconds per wall second (default 60)
      --url URL           broker (default mqtt://127.0.0.1:1883)
      --prefix P          truck ids P-<scenario>-N (default scn)
      --password X | --password-file F
      --fences FILE       write the geofence scenario's fences (GeoJSON) here, for fleetsync detect --geofences
`;

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new FleetError("FLEET_USAGE", `${flag} must be a whole number, got ${value}`);
  return n;
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new FleetError("FLEET_USAGE", `${flag} must be a positive number, got ${value}`);
  return n;
}

function truckIds(prefix: string, count: number, width: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(width, "0")}`);
}

/** Resolves on Ctrl-C, SIGTERM or after durationS; cancel() removes the listeners without resolving. */
function untilSignal(durationS: number | undefined): { signalled: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const signalled = new Promise<void>((resolve) => {
    const timer = durationS === undefined ? undefined : setTimeout(() => finish(), durationS * 1000);
    const finish = () => {
      cancel();
      resolve();
    };
    cancel = () => {
      process.off("SIGINT", finish);
      process.off("SIGTERM", finish);
      clearTimeout(timer);
    };
    process.on("SIGINT", finish);
    process.on("SIGTERM", finish);
  });
  return { signalled, cancel };
}

async function runDevices(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      trucks: { type: "string" },
      prefix: { type: "string" },
      dir: { type: "string" },
      can: { type: "string" },
      "nmea-hz": { type: "string" },
      faults: { type: "string" },
      ecus: { type: "string" },
      "elm-ignore": { type: "string" },
      "can-baud": { type: "string" },
      duration: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const count = positiveInt(values.trucks, "--trucks", 3);
  const can = values.can ?? "slcan";
  if (!["slcan", "elm327", "stn", "mixed", "none"].includes(can)) {
    throw new FleetError("FLEET_USAGE", `--can must be slcan, elm327, stn, mixed or none, got ${can}`);
  }
  const canBaud = values["can-baud"] === undefined ? undefined : positiveInt(values["can-baud"], "--can-baud", 1);
  const ecus = values.ecus ?? "engine";
  if (ecus !== "engine" && ecus !== "multi")
    throw new FleetError("FLEET_USAGE", `--ecus must be engine or multi, got ${ecus}`);
  const elmIgnore = (values["elm-ignore"] ?? "")
    .split(",")
    .filter((c) => c !== "")
    .map((c) => c.toUpperCase());
  const faultCount = Math.min(positiveInt(values.faults, "--faults", 0), FAULT_CATALOG.length);
  const faults = FAULT_CATALOG.slice(0, faultCount).map((f) => ({ spn: f.spn, fmi: f.fmi, oc: 1 }));
  const fleet = createDeviceFleet(
    {
      dir: values.dir ?? "/tmp/fleetsync-sim",
      trucks: truckIds(values.prefix ?? "truck", count, 3).map((truckId, i) => {
        const kind = can === "mixed" ? (i % 2 === 0 ? "slcan" : "elm327") : can === "stn" ? "elm327" : can;
        const canBaudRate = canBaud ?? (kind === "elm327" ? 38400 : undefined);
        return {
          truckId,
          can: kind as "slcan" | "elm327" | "none",
          ...(canBaudRate === undefined ? {} : { canBaudRate }),
          nmeaHz: positiveInt(values["nmea-hz"], "--nmea-hz", 1),
          faults,
          ecus: ecus as "engine" | "multi",
          elm: { chip: can === "stn" ? ("stn" as const) : ("elm327" as const), ignore: elmIgnore, rxErrorEvery: 1000 },
        };
      }),
    },
    { logger: createLogger("sim") },
  );
  await fleet.start();
  const devices = fleet.devices();
  if (values.json) process.stdout.write(`${JSON.stringify({ devices })}\n`);
  else {
    for (const d of devices)
      process.stdout.write(`${d.truckId}  gps ${d.gps ?? "-"}  can ${d.can ?? "-"} (${d.canProtocol})\n`);
    process.stdout.write("Ctrl-C to stop.\n");
  }
  await untilSignal(positive(values.duration, "--duration")).signalled;
  await fleet.stop();
  return 0;
}

/** `--sources 8` → 127.0.1.1 … 127.0.1.8 (all of 127.0.0.0/8 answers on loopback); or a comma-separated list. */
export function sourceAddresses(value: string): string[] {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1 || n > 250) throw new FleetError("FLEET_USAGE", `--sources must be 1..250 addresses, got ${value}`);
    return Array.from({ length: n }, (_, i) => `127.0.1.${i + 1}`);
  }
  return value.split(",").map((a) => a.trim());
}

async function passwords(values: { password?: string; "password-file"?: string }) {
  if (values.password !== undefined) return values.password;
  const file = values["password-file"];
  if (file === undefined) return undefined;
  const text = (await readFile(file, "utf8")).trim();
  if (!text.startsWith("{")) return text;
  const map = JSON.parse(text) as Record<string, string>;
  return (truckId: string) => {
    const p = map[truckId];
    if (p === undefined) throw new FleetError("FLEET_USAGE", `${file} has no password for ${truckId}`);
    return p;
  };
}

async function runLoad(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      url: { type: "string" },
      trucks: { type: "string" },
      prefix: { type: "string" },
      rate: { type: "string" },
      batch: { type: "string" },
      records: { type: "string" },
      duration: { type: "string" },
      ramp: { type: "string" },
      inflight: { type: "string" },
      password: { type: "string" },
      "password-file": { type: "string" },
      format: { type: "string" },
      period: { type: "string" },
      sources: { type: "string" },
      "no-spread": { type: "boolean" },
      "storm-at": { type: "string" },
      "storm-backlog": { type: "string" },
      "storm-batch": { type: "string" },
      json: { type: "boolean" },
    },
  });
  const period = positive(values.period, "--period");
  if (period !== undefined && values.rate !== undefined)
    throw new FleetError("FLEET_USAGE", "give --rate or --period, not both");
  const stormAt = positive(values["storm-at"], "--storm-at");
  const format = values.format ?? "binary";
  if (format !== "binary" && format !== "json") throw new FleetError("FLEET_USAGE", "--format must be binary or json");
  const records = values.records === undefined ? undefined : positiveInt(values.records, "--records", 1);
  const durationS = positive(values.duration, "--duration");
  if (records === undefined && durationS === undefined)
    throw new FleetError("FLEET_USAGE", "give --records or --duration");
  const password = await passwords(values);
  const run = createLoadRun(
    {
      url: values.url ?? "mqtt://127.0.0.1:1883",
      truckIds: truckIds(values.prefix ?? "sim", positiveInt(values.trucks, "--trucks", 100), 5),
      ...(password === undefined ? {} : { password }),
      ratePerTruck: period !== undefined ? 1 / period : (positive(values.rate, "--rate") ?? 1),
      batchSize: positiveInt(values.batch, "--batch", 1),
      ...(records === undefined ? {} : { recordsPerTruck: records }),
      ...(durationS === undefined ? {} : { durationS }),
      rampPerSec: positive(values.ramp, "--ramp") ?? 50,
      inflight: positiveInt(values.inflight, "--inflight", 1),
      format,
      spread: !values["no-spread"],
      ...(values.sources === undefined ? {} : { sourceAddresses: sourceAddresses(values.sources) }),
      ...(stormAt === undefined
        ? {}
        : {
            storm: {
              atS: stormAt,
              backlogS: positive(values["storm-backlog"], "--storm-backlog") ?? 600,
              batchSize: positiveInt(values["storm-batch"], "--storm-batch", 100),
            },
          }),
    },
    { logger: createLogger("sim") },
  );
  await run.start();
  let lastAcked = 0;
  const progress = setInterval(() => {
    const s = run.stats();
    const line = { ...s, publishesAckedPerSec: s.publishesAcked - lastAcked };
    lastAcked = s.publishesAcked;
    process.stderr.write(
      values.json
        ? `${JSON.stringify(line)}\n`
        : `${Math.round(s.elapsedMs / 1000)}s connected ${s.connected}/${s.trucks} acked/s ${line.publishesAckedPerSec} records acked ${s.recordsAcked} refused ${s.publishesRefused}\n`,
    );
  }, 1000);
  const signal = untilSignal(undefined);
  const summary = await Promise.race([run.done, signal.signalled.then(() => run.stop())]);
  signal.cancel();
  clearInterval(progress);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.complete ? 0 : 1;
}

async function runScenario(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      name: { type: "string" },
      trucks: { type: "string" },
      speed: { type: "string" },
      url: { type: "string" },
      prefix: { type: "string" },
      password: { type: "string" },
      "password-file": { type: "string" },
      fences: { type: "string" },
    },
  });
  const name = values.name ?? "all";
  if (name !== "all" && !(SCENARIO_NAMES as readonly string[]).includes(name)) {
    throw new FleetError("FLEET_USAGE", `--name must be all or one of ${SCENARIO_NAMES.join(", ")}, got ${name}`);
  }
  const names = name === "all" ? SCENARIO_NAMES : [name as ScenarioName];
  const trucks = planScenarioFleet({
    trucks: positiveInt(values.trucks, "--trucks", names.length),
    names,
    prefix: values.prefix ?? "scn",
    startTimeMs: Math.floor(Date.now() / 1000) * 1000,
  });
  if (values.fences) await writeFile(values.fences, `${JSON.stringify(scenarioFleetFences(trucks), null, 2)}\n`);
  const password = await passwords(values);
  const speed = positive(values.speed, "--speed") ?? 60;
  for (const t of trucks) {
    const { description, expected } = SCENARIOS[t.scenario];
    process.stdout.write(`${JSON.stringify({ truckId: t.truckId, scenario: t.scenario, description, expected })}\n`);
  }
  const summary = await runScenarios(
    {
      url: values.url ?? "mqtt://127.0.0.1:1883",
      trucks,
      speed,
      ...(password === undefined ? {} : { password: typeof password === "string" ? () => password : password }),
    },
    { logger: createLogger("sim") },
  );
  process.stdout.write(`${JSON.stringify({ done: true, ...summary })}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  if (mode === undefined || mode === "-h" || mode === "--help") {
    process.stdout.write(USAGE);
    return mode === undefined ? 2 : 0;
  }
  if (mode === "devices") return runDevices(rest);
  if (mode === "load") return runLoad(rest);
  if (mode === "scenario") return runScenario(rest);
  throw new FleetError(
    "FLEET_USAGE",
    `unknown mode '${mode}': use 'devices', 'load' or 'scenario' (see fleetsync sim --help)`,
  );
}
