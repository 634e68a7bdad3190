/**
 * Starts and stops the local single-node Kafka of `deploy/kafka/kafka.sh` from Node: the test harness, the demo and
 * the fault tests use it. Each instance has its own ports and data folder, so several can run side by side.
 */
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), "kafka.sh");

export interface LocalKafkaOptions {
  /** Client port; a free one is chosen when omitted. */
  port?: number;
  controllerPort?: number;
  /** Data folder; a new temporary one when omitted. Reusing a folder keeps the topics (a broker restart). */
  dataDir?: string;
  /** Stop the broker when this process exits, even on SIGKILL of the caller. Default: this process. */
  watchPid?: number;
}

export interface LocalKafka {
  readonly brokers: string[];
  readonly dataDir: string;
  readonly port: number;
  /** Starts the broker again on the same ports and data (after stop): for broker-restart tests. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "fleetsync-kafka-")));
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_DATA_DIR: dataDir,
    KAFKA_WATCH_PID: String(options.watchPid ?? process.pid),
  };
  const call = async (verb: "start" | "stop") => {
    await run("bash", [script, verb], { env, timeout: 180_000 });
  };
  await call("start");
  return {
    brokers: [`127.0.0.1:${port}`],
    dataDir,
    port,
    start: () => call("start"),
    stop: () => call("stop"),
  };
}

/** The classpath of the Kafka jars, for the Java reference tools (console producer, perf test). */
export async function kafkaClasspath(): Promise<string> {
  const { stdout } = await run("bash", [script, "classpath"], { timeout: 300_000 });
  return stdout.trim();
}
