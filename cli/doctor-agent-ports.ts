/**
 * `doctor`'s view of the configured serial ports: does each path exist now, and, when the agent is running, what
 * its own metrics say about each port (open, bytes, errors). A wrong path otherwise shows up only as "no data".
 */
import { stat } from "node:fs/promises";
import type { AgentConfig } from "../agent/index.ts";
import type { Step } from "./doctor-broker.ts";

interface PortState {
  source: string;
  path: string;
  open?: number;
  bytes?: number;
  errors?: number;
  lost?: number;
}

const FIELDS: Record<string, keyof PortState> = {
  fleetsync_agent_serial_port_open: "open",
  fleetsync_agent_serial_bytes_total: "bytes",
  fleetsync_agent_serial_errors_total: "errors",
  fleetsync_agent_serial_lost_total: "lost",
};

/** The per-port samples of the agent's Prometheus text. */
export function parsePortMetrics(text: string): PortState[] {
  const ports = new Map<string, PortState>();
  for (const m of text.matchAll(
    /^(fleetsync_agent_serial_[a-z_]+)\{source="([^"]*)",path="((?:[^"\\]|\\.)*)"\} (\S+)$/gm,
  )) {
    const field = FIELDS[m[1]!];
    if (!field) continue;
    const path = m[3]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    const key = `${m[2]}\0${path}`;
    const port = ports.get(key) ?? { source: m[2]!, path };
    (port as unknown as Record<string, number>)[field] = Number(m[4]);
    ports.set(key, port);
  }
  return [...ports.values()];
}

export async function configuredPortSteps(config: AgentConfig, timeoutMs: number): Promise<Step[]> {
  const configured = [
    ...(config.gps ? [{ source: "gps", path: config.gps.path }] : []),
    // (a SocketCAN interface has no device path: doctor-can.ts checks it)
    ...(config.can?.path ? [{ source: "can", path: config.can.path }] : []),
  ];
  const steps: Step[] = [];
  if (configured.length > 0) {
    const found = await Promise.all(
      configured.map((p) =>
        stat(p.path).then(
          (s) => s.isCharacterDevice(),
          () => null,
        ),
      ),
    );
    const notes = configured.map(
      (p, i) =>
        `${p.source.toUpperCase()} ${p.path}: ${found[i] === null ? "MISSING" : found[i] ? "present" : "not a serial device"}`,
    );
    steps.push({
      step: "configured ports",
      status: found.every((f) => f === true) ? "pass" : "fail",
      detail: notes.join("; "),
    });
  }
  const { enabled, host, port } = config.metrics;
  if (!enabled || port === 0) {
    steps.push({ step: "agent's ports", status: "skip", detail: "the agent's metrics endpoint is off" });
    return steps;
  }
  let text: string;
  try {
    const res = await fetch(`http://${host}:${port}/metrics`, {
      signal: AbortSignal.timeout(Math.min(timeoutMs, 2000)),
    });
    text = await res.text();
  } catch {
    steps.push({
      step: "agent's ports",
      status: "skip",
      detail: `the agent is not running (nothing on ${host}:${port})`,
    });
    return steps;
  }
  steps.push(backlogStep(text));
  const ports = parsePortMetrics(text);
  steps.push({
    step: "agent's ports",
    status: ports.every((p) => p.open === 1) ? "pass" : "fail",
    detail:
      ports.length === 0
        ? "the running agent has no serial port configured"
        : ports
            .map(
              (p) =>
                `${p.source.toUpperCase()} ${p.path}: ${p.open === 1 ? "open" : "NOT open"}, ${p.bytes ?? 0} bytes read, ${p.errors ?? 0} errors, lost ${p.lost ?? 0} times`,
            )
            .join("; ") + " (the running agent holds these ports: stop it before probing them)",
    data: { ports },
  });
  return steps;
}

/** The running agent's backlog from its metrics: what waits in the outbox, how old, what was lost, the drain. */
export function backlogStep(text: string): Step {
  const value = (name: string, channel?: string): number => {
    const labels = channel ? `\\{channel="${channel}"\\}` : "";
    const m = new RegExp(`^fleetsync_agent_${name}${labels} (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  const per = (c: string) => ({
    waiting: value("outbox_records", c) + value("outbox_pending_records", c),
    ageS: Math.round(value("outbox_backlog_age_seconds", c)),
    dropped: value("outbox_dropped_total", c),
    thinned: value("outbox_thinned_total", c) || 0, // NaN from an agent older than thinning: none
  });
  const telemetry = per("telemetry");
  const events = per("events");
  // An agent older than the thin-then-drop policy has no policy line: it can only drop.
  const policy = /^fleetsync_agent_outbox_when_full_info\{policy="([^"]+)"\} 1$/m.exec(text)?.[1] ?? "drop-oldest";
  const data = {
    policy,
    telemetry,
    events,
    connected: value("mqtt_connected") === 1,
    publishedBytes: value("mqtt_published_bytes_total"),
    pacedWaits: value("uplink_drain_paced_waits_total"),
    latestSent: value("uplink_latest_published_total"),
  };
  const lost = telemetry.dropped + events.dropped;
  return {
    step: "agent's backlog",
    status: lost > 0 ? "warn" : "pass",
    detail:
      `${telemetry.waiting} telemetry records waiting (oldest ${telemetry.ageS} s), ${events.waiting} events ` +
      `(oldest ${events.ageS} s); when full: ${policy}, thinned ${telemetry.thinned} telemetry; ` +
      `dropped ${telemetry.dropped} telemetry, ${events.dropped} events; ` +
      `${data.connected ? "connected" : "NOT connected"}, ${data.publishedBytes} bytes published, ` +
      `drain held back by pacing ${data.pacedWaits} times, ${data.latestSent} current-state records sent`,
    data,
  };
}
