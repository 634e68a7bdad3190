/**
 * `fleetsync history --config FILE` as its own process (what operators run), for the demo. Ready when it prints its
 * ready line with the ops port (/metrics, /readyz).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HistoryConfigInput } from "../../pipelines/history/config.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { REPO } from "./bridge.ts";
import { childLifecycle, type Exit, readyLine } from "./child.ts";

export interface HistoryProcess {
  readonly child: ChildProcess;
  /** The ops port: /metrics, /healthz, /readyz. */
  readonly port: number;
  readonly exited: Promise<Exit>;
  logTail(): string;
  /** SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

export async function writeHistoryConfig(dir: string, config: HistoryConfigInput): Promise<string> {
  const file = join(dir, "history.json");
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export async function spawnHistory(
  configFile: string,
  options: { logLevel?: string; detached?: boolean } = {},
): Promise<HistoryProcess> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "history", "--config", configFile], {
    cwd: REPO,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: options.logLevel ?? "warn" },
  });
  let tail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  const { exited, stop } = childLifecycle(child, 20_000);
  const ready = await readyLine<{ http: number }>(child, exited, "fleetsync history", () => tail, READY_TIMEOUT_MS);
  return { child, port: ready.http, exited, logTail: () => tail, stop };
}
