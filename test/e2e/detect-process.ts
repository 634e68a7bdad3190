/**
 * `fleetsync detect` as a child process for the demos: spawned with a config file, ready once it prints its ready
 * line, and every alert change it prints on stdout (`{"alert": ...}` lines) handed to `onAlert`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Alert } from "../../protocol/alerts.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { REPO } from "./bridge.ts";
import { childLifecycle, readyLine } from "./child.ts";

export interface DetectProcess {
  child: ChildProcess;
  stop(): Promise<void>;
  logTail(): string;
}

export async function spawnDetect(
  configFile: string,
  options: { onAlert(alert: Alert): void; detached?: boolean },
): Promise<DetectProcess> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "detect", "--config", configFile], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    // detached: its own process group, so a Ctrl-C meant for the demo reaches it only through the demo's stop.
    detached: options.detached ?? false,
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  let tail = "";
  child.stderr!.on("data", (c: Buffer) => (tail = (tail + c.toString()).slice(-4_000)));
  const life = childLifecycle(child, 10_000);
  try {
    await readyLine(child, life.exited, "fleetsync detect", () => tail, 60_000);
  } catch (error) {
    await life.stop();
    throw error;
  }
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith('{"alert"')) options.onAlert((JSON.parse(line) as { alert: Alert }).alert);
  });
  return { child, stop: life.stop, logTail: () => tail };
}

/** One line for people: time, truck, detector, state, what, event time and the id's start. */
export function describeAlert(a: Alert): string {
  const clock = new Date().toISOString().slice(11, 19);
  const subject = a.subject ? ` [${a.subject}]` : "";
  return `${clock}  ${a.truckId.padEnd(18)} ${`${a.detector}${subject}`.padEnd(34)} ${a.state.toUpperCase().padEnd(7)} ${a.message}  (event time ${a.at.slice(11, 19)}, id ${a.id.slice(0, 8)})`;
}
