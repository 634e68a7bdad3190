/**
 * Starts and stops the throw-away PostgreSQL of `deploy/postgres/postgres.sh` from Node: the test harness, the demo
 * and the fault tests use it. Each instance has its own port and data folder, so several can run side by side.
 */
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "../kafka/local-kafka.ts";

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), "postgres.sh");

export interface LocalPostgresOptions {
  /** TCP port on 127.0.0.1; a free one is chosen when omitted. */
  port?: number;
  /** Data folder; a new temporary one when omitted. Reusing a folder keeps the databases (a server restart). */
  dataDir?: string;
  /** Stop the server when this process exits, even on SIGKILL of the caller. Default: this process. */
  watchPid?: number;
}

export interface LocalPostgres {
  /** postgres://fleetsync@127.0.0.1:PORT/fleetsync */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Starts the server again on the same port and data (after stop): for database-outage tests. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "fleetsync-pg-")));
  const env = {
    ...process.env,
    PG_PORT: String(port),
    PG_DATA_DIR: dataDir,
    PG_WATCH_PID: String(options.watchPid ?? process.pid),
  };
  const call = async (verb: "start" | "stop") => {
    const { stdout } = await run("bash", [script, verb], { env, timeout: 120_000 });
    return stdout.trim();
  };
  const url = await call("start");
  return {
    url,
    port,
    dataDir,
    start: async () => {
      await call("start");
    },
    stop: async () => {
      await call("stop");
    },
  };
}
