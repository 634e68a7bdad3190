/**
 * A `fleetsync` server command (map, history) as its own process, what operators run: started with `--config FILE`,
 * ready when it prints its `{"ready":true,...}` line, stopped with SIGTERM (SIGKILL after 20 s).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fleetsyncCommand } from "../support/build.ts";
import { REPO } from "./bridge.ts";
import { childLifecycle, type Exit, readyLine } from "./child.ts";

export interface ServerProcess<Ready> {
  readonly child: ChildProcess;
  readonly ready: Ready;
  readonly exited: Promise<Exit>;
  logTail(): string;
  /** SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  logLevel?: string;
  detached?: boolean;
}

const READY_TIMEOUT_MS = 60_000;

/** Writes a command's configuration file (JSON) into `dir`; returns its path. */
export async function writeConfigFile(dir: string, name: string, config: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export async function spawnServer<Ready>(
  command: string,
  configFile: string,
  options: ServerOptions = {},
): Promise<ServerProcess<Ready>> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), command, "--config", configFile], {
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
  const ready = await readyLine<Ready>(child, exited, `fleetsync ${command}`, () => tail, READY_TIMEOUT_MS);
  return { child, ready, exited, logTail: () => tail, stop };
}
