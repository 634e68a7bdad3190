/**
 * `fleetsync doctor`: the installer's check, one plain-words pass/fail line per step. Which serial port is the GPS
 * and which the CAN adapter is found by listening to each port (agent/sources/probe), never by guessing from names.
 * Run it with the agent stopped: it opens the same serial ports and connects with the truck's MQTT identity.
 */
import { existsSync, realpathSync } from "node:fs";
import { type AgentConfig, loadAgentConfig } from "../agent/config.ts";
import { toGps } from "../agent/state/rounding.ts";
import { FleetError } from "../common/errors.ts";
import { parseCommandArgs } from "./commands.ts";
import { configuredPortSteps } from "./doctor-agent-ports.ts";
import { type InterfaceProbe, interfaceCanSteps, interfaceForCan, interfacesStep, trafficSteps } from "./doctor-can.ts";
import { checkBroker, type Step } from "./doctor-broker.ts";

const DEFAULT_CONFIG = "/etc/fleetsync/agent.json";

const HELP = `Usage: fleetsync doctor [--config FILE] [--port PATH ...] [--json]

Checks a gateway step by step and says in plain words what passed and what did not:
the configured ports (present? and, while the agent runs, open? bytes? errors? from its metrics),
serial ports (which is the GPS, which the CAN adapter: found by listening, then by asking silent ports
whether they are an ELM327/STN or SLCAN adapter, with questions that never reach the vehicle bus;
docs/installer-guide.md lists the exact bytes), GPS fix and satellites,
CAN traffic (format, bitrate, frames/s, engine speed), broker reachable, credentials accepted,
and a test record end to end (with the bridge's confirmation over MQTT 5).
  -c, --config FILE    the agent's configuration (default ${DEFAULT_CONFIG} when present)
  -p, --port PATH      probe only these serial ports (repeatable); default: every serial device found
      --listen-ms N    how long to listen at each baud rate (default 1500)
      --reply-ms N     how long to wait for an adapter's answer to each question (default 1000)
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

/** One port in the "serial ports" line: what it is, or that it answered nothing when asked. */
function portKind(r: Probe): string {
  if (r.kind === "nmea") return "GPS";
  if (r.kind === "can" || r.kind === "adapter")
    return r.adapter ? `CAN (${r.adapter.kind === "slcan" ? "SLCAN" : r.adapter.version})` : "CAN";
  if (r.kind === "nothing")
    return r.asked?.length
      ? `silent (no answer to ELM327/STN or SLCAN questions at ${r.asked.join(", ")} baud)`
      : "silent";
  return r.kind;
}

/** The note when the configured speed cannot work with the ELM327/STN found ("" when it can). */
function baudMismatch(config: AgentConfig | undefined, c: Probe): string {
  const configured = config?.can?.baudRate;
  // A USB CDC SLCAN adapter works at any speed; an ELM327/STN UART only at its own.
  if (!c.adapter || c.adapter.kind === "slcan" || configured === undefined || configured === c.baudRate) return "";
  return `; but the configuration says ${configured} baud: run provision again with --can-baud ${c.baudRate}`;
}

function portSteps(
  results: Probe[],
  interfaces: InterfaceProbe[] | Error,
  config: AgentConfig | undefined,
  describe: (p: Probe) => string,
): Step[] {
  const steps: Step[] = [];
  const gps = results.filter((r) => r.kind === "nmea");
  // Ports with frames first, then adapters that answered without frames (the bus asleep).
  const can = [...results.filter((r) => r.kind === "can"), ...results.filter((r) => r.kind === "adapter")];
  steps.push({
    step: "serial ports",
    status: results.some((r) => r.kind !== "unreadable") ? "pass" : "fail",
    detail:
      results.length > 0
        ? results.map((r) => `${r.path}: ${portKind(r)}`).join(", ")
        : "no serial device found (is the USB adapter plugged in?)",
    // (a list of only unreadable ports fails too: permissions, or the agent still holds them)
    data: {
      ports: results.map((r) => ({
        path: r.path,
        kind: r.kind,
        baudRate: r.baudRate,
        error: r.error,
        adapter: r.adapter,
        asked: r.asked,
      })),
    },
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
  const socketcan = config?.can?.format === "socketcan";
  steps.push(interfacesStep(interfaces, socketcan));
  // A configured interface, or none configured and no serial adapter while an interface carries frames.
  const iface = socketcan || (!c && !config?.can) ? interfaceForCan(interfaces, config) : undefined;
  if (socketcan || iface?.can) {
    steps.push(...interfaceCanSteps(iface, config));
  } else if (!c) {
    steps.push({
      step: "CAN port",
      status: "fail",
      detail:
        "no port carries CAN frames or answers as an ELM327/STN or SLCAN adapter: check the adapter's cable (an OBD " +
        "adapter also needs the truck's power on its connector) and that the ignition is on",
    });
    steps.push({ step: "CAN traffic", status: "skip", detail: "no CAN port" });
  } else {
    const mismatch = configMismatch(config?.can?.path, c.path, "--can") + baudMismatch(config, c);
    const format = c.can?.format ?? (c.adapter?.kind === "slcan" ? "slcan" : "elm327");
    steps.push({
      step: "CAN port",
      status: mismatch ? "fail" : "pass",
      detail:
        `${c.path} at ${c.baudRate} baud: ` +
        (c.adapter ? `${describe(c)}, ` : "") +
        (c.can ? `${c.can.format} frames` : "no frames yet") +
        mismatch,
      data: { path: c.path, baudRate: c.baudRate, format, adapter: c.adapter },
    });
    steps.push(
      ...(c.can
        ? trafficSteps(c.can, config)
        : [
            {
              step: "CAN traffic",
              status: "fail" as const,
              detail: `the adapter answers but no frame came while listening: is the ignition on, and is the bus at ${(config?.can?.bitrate ?? 250_000) / 1000} kbit/s (--can-bitrate)?`,
            },
          ]),
    );
  }
  return steps;
}

const MARK: Record<Step["status"], string> = { pass: "PASS", fail: "FAIL", warn: "WARN", skip: "SKIP" };

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      config: { type: "string", short: "c" },
      port: { type: "string", short: "p", multiple: true },
      "listen-ms": { type: "string" },
      "reply-ms": { type: "string" },
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

  const { describeAdapter, listSerialCandidates, probeSerialPort } = await import("../agent/sources/index.ts");
  const explicit = values.port ?? [];
  const candidates =
    explicit.length > 0
      ? explicit
      : [
          ...new Set([
            ...(config?.gps ? [config.gps.path] : []),
            ...(config?.can?.path ? [config.can.path] : []),
            ...(await listSerialCandidates()),
          ]),
        ];
  const canBitrate = config?.can?.bitrate ?? 250_000;
  const replyMs = int("--reply-ms", values["reply-ms"], 1000);
  const { probeCanInterfaces } = await import("../agent/sources/probe/interfaces.ts");
  const [results, interfaces] = await Promise.all([
    Promise.all(candidates.map((path) => probeSerialPort(path, { listenMs, replyMs, canBitrate }))),
    probeCanInterfaces({
      listenMs,
      ...(config?.can ? { candumpPath: config.can.candumpPath, ipPath: config.can.ipPath } : {}),
    }).catch((error: Error) => error),
  ]);
  steps.push(...portSteps(results, interfaces, config, (p) => (p.adapter ? describeAdapter(p.adapter) : "")));

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
