/**
 * `fleetsync doctor`: the installer's check, one plain-words pass/fail line per step. Which serial port is the GPS
 * and which the CAN adapter is found by listening to each port (agent/sources/probe), never by guessing from names.
 * Run it with the agent stopped: it opens the same serial ports and connects with the truck's MQTT identity.
 */
import { existsSync, realpathSync } from "node:fs";
import { type AgentConfig, loadAgentConfig } from "../agent/index.ts";
import { toGps } from "../agent/state/index.ts";
import { FleetError } from "../common/errors.ts";
import { parseCommandArgs } from "./commands.ts";
import { configuredPortSteps } from "./doctor-agent-ports.ts";
import { checkBroker, type Step } from "./doctor-broker.ts";

const DEFAULT_CONFIG = "/etc/fleetsync/agent.json";

const HELP = `Usage: fleetsync doctor [--config FILE] [--port PATH ...] [--json]

Checks a gateway step by step and says in plain words what passed and what did not:
the configured ports (present? and, while the agent runs, open? bytes? errors? from its metrics),
serial ports (which is the GPS, which the CAN adapter, found by listening), GPS fix and satellites,
CAN traffic (format, bitrate, frames/s, engine speed), broker reachable, credentials accepted,
and a test record end to end (with the bridge's confirmation over MQTT 5).
  -c, --config FILE    the agent's configuration (default ${DEFAULT_CONFIG} when present)
  -p, --port PATH      probe only these serial ports (repeatable); default: every serial device found
      --listen-ms N    how long to listen at each baud rate (default 1500)
      --timeout-ms N   network timeout per step (default 10000)
      --confirm-ms N   how long to wait for the bridge's confirmation (default 5000)
      --json           one JSON object on stdout instead of lines
Stop the agent first (it holds the serial ports). Exit code 0 when nothing failed.
`;

function int(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new FleetError("FLEET_USAGE", `${flag} must be a whole number of milliseconds`);
  return Number(value);
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/** The note when the port found by listening is not the configured one ("" when they agree or none is set). */
function configMismatch(configured: string | undefined, found: string, flag: "--gps" | "--can"): string {
  if (configured === undefined || samePath(configured, found)) return "";
  return `; but the configuration says ${configured}: run provision again with ${flag} ${found}`;
}

type Probe = Awaited<ReturnType<typeof import("../agent/sources/index.ts").probeSerialPort>>;

function portSteps(results: Probe[], config: AgentConfig | undefined): Step[] {
  const steps: Step[] = [];
  const gps = results.filter((r) => r.kind === "nmea");
  const can = results.filter((r) => r.kind === "can");
  steps.push({
    step: "serial ports",
    status: results.some((r) => r.kind !== "unreadable") ? "pass" : "fail",
    detail:
      results.length > 0
        ? results.map((r) => `${r.path}: ${r.kind === "nmea" ? "GPS" : r.kind === "can" ? "CAN" : r.kind}`).join(", ")
        : "no serial device found (is the USB adapter plugged in?)",
    // (a list of only unreadable ports fails too: permissions, or the agent still holds them)
    data: { ports: results.map((r) => ({ path: r.path, kind: r.kind, baudRate: r.baudRate, error: r.error })) },
  });
  const g = gps[0];
  if (!g?.nmea) {
    steps.push({ step: "GPS port", status: "fail", detail: "no port speaks NMEA: check the GPS cable and power" });
    steps.push({ step: "GPS fix", status: "skip", detail: "no GPS port" });
  } else {
    const mismatch = configMismatch(config?.gps?.path, g.path, "--gps");
    steps.push({
      step: "GPS port",
      status: mismatch ? "fail" : "pass",
      detail:
        `${g.path} at ${g.baudRate} baud: NMEA from ${g.nmea.talkers.join(", ")} (${g.nmea.sentenceTypes.join(", ")})` +
        mismatch +
        (gps.length > 1
          ? `; also NMEA on ${gps
              .slice(1)
              .map((x) => x.path)
              .join(", ")}`
          : ""),
      data: { path: g.path, baudRate: g.baudRate, ...g.nmea, fix: undefined },
    });
    const fix = g.nmea.fix;
    const sats = fix?.sats ?? null;
    const { refused } = g.nmea.gnssTime;
    // Epochs whose time the agent would not take as the truck's clock (no fix, a garbage or rolled-over date).
    const timeNote =
      refused["no-fix"] + refused["implausible-date"] > 0
        ? `; GNSS time refused on ${refused["no-fix"]} epochs without a fix, ${refused["implausible-date"]} with an implausible date`
        : "";
    if (fix && fix.fix !== "none" && fix.lat !== null && fix.lon !== null) {
      steps.push({
        step: "GPS fix",
        status: "pass",
        detail: `${fix.fix.toUpperCase()} fix with ${sats ?? "?"} satellites (HDOP ${fix.hdop ?? "?"}) at ${fix.lat.toFixed(5)}, ${fix.lon.toFixed(5)}${timeNote}`,
        data: { fix: toGps(fix), gnssTime: g.nmea.gnssTime },
      });
    } else {
      steps.push({
        step: "GPS fix",
        status: "fail",
        detail: `no position fix yet${sats !== null ? ` (${sats} satellites used)` : ""}: the antenna needs open sky; a cold start can take a few minutes${timeNote}`,
        data: { gnssTime: g.nmea.gnssTime },
      });
    }
  }
  const c = can[0];
  if (!c?.can) {
    steps.push({
      step: "CAN port",
      status: "fail",
      detail: "no port carries CAN frames: check the adapter and that the ignition is on",
    });
    steps.push({ step: "CAN traffic", status: "skip", detail: "no CAN port" });
  } else {
    const mismatch = configMismatch(config?.can?.path, c.path, "--can");
    steps.push({
      step: "CAN port",
      status: mismatch ? "fail" : "pass",
      detail: `${c.path} at ${c.baudRate} baud: ${c.can.format} frames` + mismatch,
      data: { path: c.path, baudRate: c.baudRate, format: c.can.format },
    });
    const bitrate = config?.can?.bitrate ?? 250_000;
    const rpm = c.can.engineSpeedRpm;
    steps.push({
      step: "CAN traffic",
      status: c.can.framesPerSec > 0 ? "pass" : "fail",
      detail:
        `${c.can.framesPerSec} frames/s at ${bitrate / 1000} kbit/s, ${c.can.pgns.length} J1939 PGNs` +
        (rpm !== null ? `, engine speed ${Math.round(rpm)} rpm` : ", no engine speed (engine off?)"),
      data: { ...c.can, bitrate },
    });
    steps.push(canSourcesStep(c.can.sources));
  }
  return steps;
}

/**
 * Which ECU (source address) sends which decoded PGN. Several ECUs often send the same one (the engine and the
 * cluster both send VD, each ECU its own DM1): the installer sees here what `state.sources` can choose from.
 */
function canSourcesStep(sources: Record<string, number[]>): Step {
  const names = Object.keys(sources);
  const shared = names.filter((n) => sources[n]!.length > 1 && n !== "DM1");
  return {
    step: "CAN sources",
    status: names.length === 0 ? "skip" : "pass",
    detail:
      names.length === 0
        ? "no decoded J1939 PGN heard"
        : names.map((n) => `${n} from SA ${sources[n]!.join(", ")}`).join("; ") +
          (shared.length > 0 ? ` (several ECUs send ${shared.join(", ")}: see state.sources)` : ""),
    data: { sources },
  };
}

const MARK: Record<Step["status"], string> = { pass: "PASS", fail: "FAIL", warn: "WARN", skip: "SKIP" };

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      config: { type: "string", short: "c" },
      port: { type: "string", short: "p", multiple: true },
      "listen-ms": { type: "string" },
      "timeout-ms": { type: "string" },
      "confirm-ms": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const listenMs = int("--listen-ms", values["listen-ms"], 1500);
  const timeoutMs = int("--timeout-ms", values["timeout-ms"], 10_000);
  const confirmMs = int("--confirm-ms", values["confirm-ms"], 5_000);
  const steps: Step[] = [];
  const configFile = values.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  let config: AgentConfig | undefined;
  if (configFile) {
    try {
      config = await loadAgentConfig(configFile);
      steps.push({ step: "configuration", status: "pass", detail: `${configFile}: truck ${config.truckId}` });
    } catch (error) {
      steps.push({ step: "configuration", status: "fail", detail: (error as Error).message });
    }
  } else {
    steps.push({
      step: "configuration",
      status: "skip",
      detail: `no ${DEFAULT_CONFIG}: checking ports only (write one with fleetsync provision)`,
    });
  }

  if (config) steps.push(...(await configuredPortSteps(config, timeoutMs)));

  const { listSerialCandidates, probeSerialPort } = await import("../agent/sources/index.ts");
  const explicit = values.port ?? [];
  const candidates =
    explicit.length > 0
      ? explicit
      : [
          ...new Set([
            ...(config?.gps ? [config.gps.path] : []),
            ...(config?.can ? [config.can.path] : []),
            ...(await listSerialCandidates()),
          ]),
        ];
  const canBitrate = config?.can?.bitrate ?? 250_000;
  const results = await Promise.all(candidates.map((path) => probeSerialPort(path, { listenMs, canBitrate })));
  steps.push(...portSteps(results, config));

  if (config) {
    const fix = results.find((r) => r.kind === "nmea")?.nmea?.fix;
    const gps = fix && fix.fix !== "none" ? toGps(fix) : undefined;
    steps.push(
      ...(await checkBroker(config.truckId, config.broker, { timeoutMs, confirmMs, ...(gps ? { gps } : {}) })),
    );
  } else {
    for (const step of ["broker reachable", "credentials accepted", "test record"]) {
      steps.push({ step, status: "skip", detail: "no configuration" });
    }
  }

  const ok = steps.every((s) => s.status !== "fail");
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok, steps })}\n`);
  } else {
    const width = Math.max(...steps.map((s) => s.step.length));
    for (const s of steps) process.stdout.write(`${MARK[s.status]}  ${s.step.padEnd(width)}  ${s.detail}\n`);
    process.stdout.write(ok ? "\nAll checks passed.\n" : "\nSome checks failed: see the FAIL lines above.\n");
  }
  return ok ? 0 : 1;
}
