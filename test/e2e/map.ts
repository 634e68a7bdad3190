/**
 * `fleetsync map --config FILE` as its own process (exactly what operators run), for the browser test, the demo
 * and the benchmark. Ready when it prints its ready line with the page's URL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { WebSocket } from "ws";
import type { MapConfigInput } from "../../pipelines/map/config.ts";
import { REPO } from "./bridge.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { childLifecycle, type Exit, readyLine } from "./child.ts";

export interface MapProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly exited: Promise<Exit>;
  logTail(): string;
  /** SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

export async function writeMapConfig(dir: string, config: MapConfigInput, name = "map.json"): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export async function spawnMap(
  configFile: string,
  options: { logLevel?: string; detached?: boolean } = {},
): Promise<MapProcess> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "map", "--config", configFile], {
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
  const ready = await readyLine<{ url: string; http: number }>(child, exited, "the map", () => tail, READY_TIMEOUT_MS);
  return { child, url: ready.url, port: ready.http, exited, logTail: () => tail, stop };
}

export interface SnapshotTruck {
  id: string;
  lat: number | null;
  lon: number | null;
  seq: number | null;
  condition: string;
}

/** The trucks of the map's WebSocket snapshot: what a page gets first when it connects. */
export function mapSnapshot(pageUrl: string): Promise<SnapshotTruck[]> {
  const url = new URL("ws", pageUrl.replace(/^http/, "ws"));
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("message", (data) => {
      socket.close();
      resolve((JSON.parse(String(data)) as { trucks: SnapshotTruck[] }).trucks);
    });
    socket.once("error", reject);
  });
}
