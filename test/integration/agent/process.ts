/** Running `fleetsync agent` as a child process, pseudo-terminals with socat, and NMEA to feed them. */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createPtyPair } from "../../../sim/devices/pty-pair.ts";
import { nmeaChecksum } from "../../../sim/nmea/writer.ts";
import { fleetsyncCommand } from "../../support/build.ts";
import { waitFor } from "../../support/wait.ts";

export const REPO = resolve(import.meta.dirname, "../../..");

export interface AgentProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The highest committedNext the agent logged for a channel (a lower bound of what is on disk). */
  committed(channel: "telemetry" | "events"): number;
}

/**
 * Starts `fleetsync agent --config FILE` as one node process running the run's build (test/support/build.ts), so a
 * signal hits the agent itself and not a wrapper that would relay it or leave the agent orphaned.
 */
export function spawnAgent(
  configFile: string,
  options: { entry?: string; logLevel?: string; nodeArgs?: string[] } = {},
): AgentProcess {
  // options.entry: a built fleetsync.js (what the Pi runs) instead of the TypeScript source.
  // options.logLevel: "debug" by default, because committed() reads the outbox's debug lines.
  // options.nodeArgs: node/V8 flags before the script (the systemd unit's ExecStart passes some).
  const entry = options.entry ? [options.entry] : fleetsyncCommand();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, "agent", "--config", configFile], {
    cwd: REPO,
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: options.logLevel ?? "debug" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffer = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
      nl = buffer.indexOf("\n");
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal, at: Date.now() })),
  );
  return {
    child,
    logs,
    exited,
    committed(channel) {
      let max = 0;
      for (const l of logs) {
        const c = (l.committedNext as Record<string, number> | undefined)?.[channel];
        if (c !== undefined && c > max) max = c;
      }
      return max;
    },
  };
}

/** Registers a SIGKILL of `agent` (unless it already exited) with a test file's cleanups; returns the agent. */
export function killAtCleanup(agent: AgentProcess, cleanups: Array<() => Promise<void>>): AgentProcess {
  cleanups.push(async () => {
    if (agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill("SIGKILL");
      await agent.exited;
    }
  });
  return agent;
}

export async function waitStarted(agent: AgentProcess): Promise<void> {
  await waitFor(
    () => {
      if (agent.child.exitCode !== null) throw new Error(`agent exited: ${JSON.stringify(agent.logs.slice(-5))}`);
      return agent.logs.some((l) => l.msg === "agent started") || undefined;
    },
    "the agent to start",
    { timeoutMs: 30_000 },
  );
}

export async function writeConfig(dir: string, config: unknown): Promise<string> {
  const file = join(dir, "agent.json");
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

export interface PtyPair {
  /** The end the program under test opens. */
  device: string;
  /** The end the test writes to (and reads from). */
  feed: string;
  close(): Promise<void>;
}

/** A pseudo-terminal pair (sim/devices/pty-pair.ts): bytes written to `feed` come out of `device`, and back. */
export async function ptyPair(dir: string, name: string): Promise<PtyPair> {
  const device = join(dir, `${name}-dev`);
  const feed = join(dir, `${name}-feed`);
  const pair = await createPtyPair(device, feed);
  return { device, feed, close: () => pair.stop() };
}

function sentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}\r\n`;
}

/** One NMEA epoch (RMC + GGA), 0.1 s after the previous one, moving north-east at 40 knots. */
export function nmeaEpoch(i: number): string {
  const centis = i * 10;
  const h = Math.floor(centis / 360_000) % 24;
  const m = Math.floor(centis / 6000) % 60;
  const s = Math.floor(centis / 100) % 60;
  const cs = centis % 100;
  const t = `${String(h).padStart(2, "0")}${String(m).padStart(2, "0")}${String(s).padStart(2, "0")}.${String(cs).padStart(2, "0")}`;
  const latMin = (7.038 + (i % 1000) * 0.001).toFixed(3).padStart(6, "0");
  return (
    sentence(`GPRMC,${t},A,48${latMin},N,01131.000,E,040.0,045.0,211126,,,A`) +
    sentence(`GPGGA,${t},48${latMin},N,01131.000,E,1,09,0.9,545.4,M,46.9,M,,`)
  );
}
