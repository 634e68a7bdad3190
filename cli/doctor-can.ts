/**
 * `doctor`'s CAN steps beyond the serial ports: the CAN network interfaces (SocketCAN: Pi CAN HATs, candleLight
 * sticks) with state, bitrate, listen-only flag and frames/s, the configured interface's own check (present, up,
 * listen-only, the fix when not), and the traffic lines shared with the serial adapters.
 */
import type { AgentConfig } from "../agent/config.ts";
import { listenOnlyCommand } from "../agent/sources/can/interfaces.ts";
import type { InterfaceProbe } from "../agent/sources/probe/interfaces.ts";
import type { ProbeResult } from "../agent/sources/probe/probe.ts";
import type { Step } from "./doctor-broker.ts";

export type { InterfaceProbe };

function describeInterface(p: InterfaceProbe): string {
  const i = p.iface;
  const parts = [
    i.up ? "up" : "DOWN",
    ...(i.state ? [i.state] : []),
    ...(i.bitrate !== null ? [`${i.bitrate / 1000} kbit/s`] : []),
    i.kind === "vcan" ? "virtual" : i.listenOnly ? "listen-only" : "NOT listen-only",
    ...(i.up ? [p.can ? `${p.can.framesPerSec} frames/s` : p.error ? `candump: ${p.error}` : "no frames"] : []),
  ];
  return `${i.name}: ${parts.join(", ")}`;
}

/** The "CAN interfaces" line: every SocketCAN interface, or why none could be listed. */
export function interfacesStep(interfaces: InterfaceProbe[] | Error, configured: boolean): Step {
  if (interfaces instanceof Error)
    return { step: "CAN interfaces", status: configured ? "fail" : "skip", detail: interfaces.message };
  if (interfaces.length === 0)
    return {
      step: "CAN interfaces",
      status: configured ? "fail" : "skip",
      detail: configured
        ? "no CAN network interface: is the HAT's overlay in /boot/firmware/config.txt, or the candleLight stick plugged in?"
        : "no CAN network interface (none needed with a serial adapter)",
    };
  return {
    step: "CAN interfaces",
    status: "pass",
    detail: interfaces.map(describeInterface).join("; "),
    data: { interfaces: interfaces.map((p) => ({ ...p.iface, framesPerSec: p.can?.framesPerSec ?? 0 })) },
  };
}

/** The configured interface, or with none configured the first one that carries frames. */
export function interfaceForCan(
  interfaces: InterfaceProbe[] | Error,
  config: AgentConfig | undefined,
): InterfaceProbe | undefined {
  if (interfaces instanceof Error) return undefined;
  const wanted = config?.can?.interface;
  return wanted ? interfaces.find((p) => p.iface.name === wanted) : interfaces.find((p) => p.can);
}

/** CAN port and traffic for a SocketCAN interface, each failure with the command that fixes it. */
export function interfaceCanSteps(p: InterfaceProbe | undefined, config: AgentConfig | undefined): Step[] {
  const wanted = config?.can?.interface;
  const bitrate = config?.can?.bitrate ?? 250_000;
  const fail = (detail: string): Step[] => [
    { step: "CAN port", status: "fail", detail },
    { step: "CAN traffic", status: "skip", detail: "no usable CAN interface" },
  ];
  if (!p) return fail(`no CAN interface ${wanted ?? ""}: check the HAT or the USB stick (ip -details link show)`);
  const i = p.iface;
  const name = i.name;
  if (!i.listenOnly && !config?.can?.allowActiveInterface)
    return fail(
      `${name} is not listen-only: its controller would acknowledge frames on the vehicle bus, and the agent refuses it. Fix: ${listenOnlyCommand(name, bitrate)}`,
    );
  if (!i.up) return fail(`${name} is down. Fix: ${listenOnlyCommand(name, bitrate)}`);
  const hint = wanted ? "" : `; run provision with --can-interface ${name}`;
  const rateNote =
    i.bitrate !== null && i.bitrate !== bitrate
      ? `; but the interface runs at ${i.bitrate / 1000} kbit/s and can.bitrate says ${bitrate / 1000}`
      : "";
  const steps: Step[] = [
    {
      step: "CAN port",
      status: rateNote ? "fail" : "pass",
      detail: `${name} (SocketCAN ${i.kind}, ${i.state ?? "no controller state"}, ${i.listenOnly ? "listen-only" : "NOT listen-only, allowed by can.allowActiveInterface"}): read with candump -L${hint}${rateNote}`,
      data: { interface: name, format: "socketcan", ...i },
    },
  ];
  if (!p.can) {
    steps.push({
      step: "CAN traffic",
      status: "fail",
      detail: p.error
        ? `candump: ${p.error}`
        : `no frame on ${name} while listening: is the ignition on, and is the bus at ${(i.bitrate ?? bitrate) / 1000} kbit/s?`,
    });
    return steps;
  }
  return [...steps, ...trafficSteps(p.can, config, i.bitrate ?? undefined)];
}

/** "CAN traffic" and "CAN sources" for frames heard on a serial adapter or an interface. */
export function trafficSteps(
  can: NonNullable<ProbeResult["can"]>,
  config: AgentConfig | undefined,
  measuredBitrate?: number,
): Step[] {
  const bitrate = measuredBitrate ?? config?.can?.bitrate ?? 250_000;
  const rpm = can.engineSpeedRpm;
  return [
    {
      step: "CAN traffic",
      status: can.framesPerSec > 0 ? "pass" : "fail",
      detail:
        `${can.framesPerSec} frames/s at ${bitrate / 1000} kbit/s, ${can.pgns.length} J1939 PGNs` +
        (rpm !== null ? `, engine speed ${Math.round(rpm)} rpm` : ", no engine speed (engine off?)"),
      data: { ...can, bitrate },
    },
    canSourcesStep(can.sources),
  ];
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
