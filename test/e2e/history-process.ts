/**
 * `fleetsync history --config FILE` as its own process (what operators run), for the demo. Ready when it prints its
 * ready line with the ops port (/metrics, /readyz).
 */
import type { ChildProcess } from "node:child_process";
import type { HistoryConfigInput } from "../../pipelines/history/config.ts";
import type { Exit } from "./child.ts";
import { type ServerOptions, spawnServer, writeConfigFile } from "./server-process.ts";

export interface HistoryProcess {
  readonly child: ChildProcess;
  /** The ops port: /metrics, /healthz, /readyz. */
  readonly port: number;
  readonly exited: Promise<Exit>;
  logTail(): string;
  /** SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

export function writeHistoryConfig(dir: string, config: HistoryConfigInput): Promise<string> {
  return writeConfigFile(dir, "history.json", config);
}

export async function spawnHistory(configFile: string, options: ServerOptions = {}): Promise<HistoryProcess> {
  const server = await spawnServer<{ http: number }>("history", configFile, options);
  return { ...server, port: server.ready.http };
}
