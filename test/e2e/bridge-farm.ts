/**
 * Several bridges behind HAProxy, as docs/operations.md deploys them: `count` bridge processes on loopback, each
 * with its own MQTT and health port, and HAProxy (Debian's package) running the shipped
 * deploy/bridge/haproxy/haproxy.cfg with the addresses in its environment. Trucks dial `url` (HAProxy); each
 * bridge can be killed, stopped and started again on the same ports, and HAProxy's own view of the bridges (its
 * admin socket's `show stat`) tells which ones it sends new trucks to.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type BridgeProcess, REPO, spawnBridge } from "./bridge.ts";
import { childLifecycle } from "./child.ts";

export const HAPROXY_CONFIG = join(REPO, "deploy/bridge/haproxy/haproxy.cfg");

export interface FarmBridge {
  readonly index: number;
  readonly configFile: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  /** The running process, if any. */
  process(): BridgeProcess | undefined;
  start(): Promise<BridgeProcess>;
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
  /** The bridge's connected-trucks gauge (fleetsync_bridge_connections), NaN when it does not answer. */
  connections(): Promise<number>;
  /** The status and body of the bridge's /readyz, on one line (for failure messages). */
  readyz(): Promise<string>;
}

/** HAProxy's state of a backend server: UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), MAINT... */
export type ServerStatus = string;

export interface BridgeFarm {
  /** Where trucks connect: HAProxy's MQTT frontend. */
  readonly url: string;
  readonly bridges: readonly FarmBridge[];
  /** HAProxy's view of each bridge in the plain MQTT backend, by index. */
  haproxyStatus(): Promise<ServerStatus[]>;
  /** Waits until HAProxy's view of the bridges is `want` (e.g. ["UP", "UP", "DOWN"]). */
  waitStatus(want: ServerStatus[], timeoutMs?: number): Promise<void>;
  /** Stops HAProxy and every bridge. Idempotent. */
  close(): Promise<void>;
}

export interface BridgeFarmOptions {
  /** Folder for the bridges' config files and HAProxy's socket. */
  dir: string;
  /**
   * The bridge configuration every bridge starts from (test/e2e/bridge.ts writeBridgeFiles): its listener port
   * and http block are replaced per bridge.
   */
  baseConfigFile: string;
  count?: number;
  /** Kafka bootstrap list per bridge, when one bridge must reach Kafka another way (through a fault proxy). */
  brokersFor?: (index: number) => string[] | undefined;
}

const HAPROXY_READY_MS = 60_000;

export async function startBridgeFarm(options: BridgeFarmOptions): Promise<BridgeFarm> {
  const count = options.count ?? 3;
  if (count !== 3) throw new RangeError("the shipped haproxy.cfg names three bridges");
  const base = JSON.parse(await readFile(options.baseConfigFile, "utf8")) as Record<string, Record<string, unknown>>;
  const bridges: FarmBridge[] = [];
  let haproxyStop: (() => Promise<void>) | undefined;
  let closing: Promise<void> | undefined;
  const socket = join(options.dir, "haproxy.sock");

  const close = () => {
    closing ??= (async () => {
      await haproxyStop?.();
      await Promise.allSettled(bridges.map((b) => b.stop()));
    })();
    return closing;
  };

  try {
    for (let index = 0; index < count; index += 1) {
      const mqttPort = await freePort();
      const httpPort = await freePort();
      const brokers = options.brokersFor?.(index);
      const config = {
        ...base,
        id: `bridge-${index + 1}`,
        listener: { ...base.listener, tcp: { host: "127.0.0.1", port: mqttPort } },
        http: { host: "127.0.0.1", port: httpPort },
        kafka: { ...base.kafka, ...(brokers ? { brokers } : {}) },
      };
      const configFile = join(options.dir, `bridge-${index + 1}.json`);
      await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
      let current: BridgeProcess | undefined;
      const bridge: FarmBridge = {
        index,
        configFile,
        mqttPort,
        httpPort,
        process: () => current,
        async start() {
          current = await spawnBridge(configFile);
          return current;
        },
        kill: async (signal) => current?.kill(signal),
        stop: async () => current?.stop(),
        async readyz() {
          try {
            const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(3_000) });
            return `${response.status} ${(await response.text()).trim().replace(/\n/g, "; ")}`;
          } catch (error) {
            return (error as Error).message;
          }
        },
        async connections() {
          try {
            const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, {
              signal: AbortSignal.timeout(2_000),
            });
            const m = /^fleetsync_bridge_connections (\S+)$/m.exec(await response.text());
            return m ? Number(m[1]) : Number.NaN;
          } catch {
            return Number.NaN;
          }
        },
      };
      bridges.push(bridge);
    }
    await Promise.all(bridges.map((b) => b.start()));

    const mqttPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FLEETSYNC_MQTT_BIND: `127.0.0.1:${mqttPort}`,
      // The TLS frontend is not used here; it binds a free port so parallel runs never collide.
      FLEETSYNC_MQTTS_BIND: `127.0.0.1:${await freePort()}`,
      FLEETSYNC_HAPROXY_SOCKET: socket,
      // HAProxy needs two descriptors per connection and refuses to start above the process's limit.
      FLEETSYNC_HAPROXY_MAXCONN: "4000",
    };
    for (const b of bridges) {
      env[`FLEETSYNC_BRIDGE${b.index + 1}`] = `127.0.0.1:${b.mqttPort}`;
      env[`FLEETSYNC_BRIDGE${b.index + 1}_TLS`] = `127.0.0.1:${b.mqttPort}`;
      env[`FLEETSYNC_BRIDGE${b.index + 1}_HTTP`] = String(b.httpPort);
    }
    // -db: foreground, no daemon; the log (stderr) is kept for failure messages.
    // Debian installs it in /usr/sbin, which is not on every user's PATH.
    env.PATH = `${env.PATH ?? ""}:/usr/sbin`;
    const child = spawn("haproxy", ["-db", "-f", HAPROXY_CONFIG], { env, stdio: ["ignore", "ignore", "pipe"] });
    let tail = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
    });
    child.once("error", (error) => {
      tail += `\n${error.message} (is HAProxy installed? Debian: apt-get install haproxy; .ci/run does)`;
    });
    haproxyStop = childLifecycle(child, 5_000).stop;

    const haproxyStatus = async (): Promise<ServerStatus[]> => {
      const csv = await adminCommand(socket, "show stat");
      const status: ServerStatus[] = [];
      for (const line of csv.split("\n")) {
        const cols = line.split(",");
        if (cols[0] !== "bridges" || !/^bridge\d$/.test(cols[1] ?? "")) continue;
        status[Number(cols[1]!.slice(6)) - 1] = cols[17] ?? "?";
      }
      return status;
    };
    const waitStatus = async (want: ServerStatus[], timeoutMs = 30_000) => {
      let last: ServerStatus[] = [];
      const exited = await waitFor(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) return "exited";
          last = await haproxyStatus().catch(() => []);
          return want.every((s, i) => last[i] === s) && "ok";
        },
        `HAProxy to see the bridges as ${want.join(",")}`,
        { timeoutMs, intervalMs: 200 },
      ).catch(async (error: unknown) => {
        const why = await Promise.all(bridges.map((b) => b.readyz()));
        throw new Error(
          `${(error as Error).message} (last seen: ${last.join(",") || "nothing"}; /readyz: ${why.join(" | ")})`,
        );
      });
      if (exited === "exited") throw new Error(`haproxy exited: ${tail}`);
    };
    await waitStatus(
      bridges.map(() => "UP"),
      HAPROXY_READY_MS,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; haproxy log: ${tail}`);
    });
    return { url: `mqtt://127.0.0.1:${mqttPort}`, bridges, haproxyStatus, waitStatus, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** One command on HAProxy's admin socket; resolves with the whole answer (HAProxy closes after answering). */
function adminCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = "";
    s.setEncoding("utf8");
    s.setTimeout(2_000, () => s.destroy(new Error(`haproxy admin socket: no answer to '${command}'`)));
    s.on("data", (chunk: string) => (out += chunk));
    s.on("error", reject);
    s.on("close", () => resolve(out));
    s.on("connect", () => s.write(`${command}\n`));
  });
}
