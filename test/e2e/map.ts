/**
 * `fleetsync map --config FILE` as its own process (exactly what operators run), for the browser test, the demo
 * and the benchmark. Ready when it prints its ready line with the page's URL.
 */
import type { ChildProcess } from "node:child_process";
import { WebSocket } from "ws";
import type { MapConfigInput } from "../../pipelines/map/config.ts";
import type { Exit } from "./child.ts";
import { type ServerOptions, spawnServer, writeConfigFile } from "./server-process.ts";

export interface MapProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly exited: Promise<Exit>;
  logTail(): string;
  /** SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

export function writeMapConfig(dir: string, config: MapConfigInput, name = "map.json"): Promise<string> {
  return writeConfigFile(dir, name, config);
}

export async function spawnMap(configFile: string, options: ServerOptions = {}): Promise<MapProcess> {
  const server = await spawnServer<{ url: string; http: number }>("map", configFile, options);
  return { ...server, url: server.ready.url, port: server.ready.http };
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
