/**
 * Starts and stops the local Kafka of `deploy/kafka/kafka.sh` from Node (one node, or a cluster of `nodes`): the
 * test harness, the demo and the fault tests use it. Each instance has its own ports and data folder, so several can
 * run side by side; each node stops by itself when the watched process exits.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), "kafka.sh");

export interface LocalKafkaOptions {
  /** KRaft nodes, each broker and controller (default 1). 3 gives replication factor 3, min.insync.replicas 2. */
  nodes?: number;
  /** Client port (node 1's); free ones are chosen when omitted. */
  port?: number;
  controllerPort?: number;
  /** Data folder; a new temporary one when omitted. Reusing a folder keeps the topics (a broker restart). */
  dataDir?: string;
  /** Stop the broker when this process exits, even on SIGKILL of the caller. Default: this process. */
  watchPid?: number;
  /**
   * Tests only: a second listener on every node, advertised on other ports where the test runs TCP proxies
   * (`proxied`). A client that bootstraps from those reaches the cluster only through the proxies.
   */
  proxiedListener?: boolean;
  /**
   * Also a SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and an SSL listener requiring a client
   * certificate, on free ports, with the test CA and users kafka.sh makes (`kafka.sh start --secure`). One node only.
   */
  secure?: boolean;
}

/** What `kafka.sh start --secure` made: KAFKA_DATA_DIR/secure/connection.json. No secret in it, only file paths. */
export interface SecureListeners {
  plaintext: string;
  saslSsl: string;
  ssl: string;
  caFile: string;
  client: { certFile: string; keyFile: string };
  users: Record<"plain" | "scram-sha-256" | "scram-sha-512", { username: string; passwordFile: string }>;
}

/** Reads the listeners a secure local Kafka's data folder lists. */
export async function readSecureListeners(dataDir: string): Promise<SecureListeners> {
  return JSON.parse(await readFile(join(dataDir, "secure", "connection.json"), "utf8")) as SecureListeners;
}

/** Node i's proxied listener listens on `listen[i]` and is advertised as `advertised[i]` (the test's proxy). */
export interface ProxiedListener {
  readonly listen: number[];
  readonly advertised: number[];
}

/** One node of the local Kafka, for fault tests that stop or crash a single broker. */
export interface LocalKafkaNode {
  /** The KRaft node id (1-based), as Kafka's metadata names it (partition leader, replicas). */
  readonly id: number;
  readonly broker: string;
  /** Starts the node again on its ports and data; resolves once it has rejoined (started up). */
  start(): Promise<void>;
  /** SIGTERM: a controlled shutdown (leadership moves away first). */
  stop(): Promise<void>;
  /** SIGKILL: a crash (no controlled shutdown; the others notice by missed heartbeats). */
  kill(): Promise<void>;
}

export interface LocalKafka {
  /** Every node's client address. */
  readonly brokers: string[];
  readonly dataDir: string;
  readonly port: number;
  readonly nodes: readonly LocalKafkaNode[];
  readonly proxied: ProxiedListener | undefined;
  /** The secure listeners (options.secure), else undefined. */
  readonly secure: SecureListeners | undefined;
  /** Starts every node again on the same ports and data (after stop): for broker-restart tests. */
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
  const count = options.nodes ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new RangeError(`nodes must be 1..9, got ${count}`);
  if (options.secure && count > 1) throw new RangeError("secure listeners run on a one-node Kafka only");
  const ports: number[] = [];
  const controllerPorts: number[] = [];
  for (let i = 0; i < count; i += 1) {
    ports.push(i === 0 && options.port !== undefined ? options.port : await freePort());
    controllerPorts.push(i === 0 && options.controllerPort !== undefined ? options.controllerPort : await freePort());
  }
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "fleetsync-kafka-")));
  let proxied: ProxiedListener | undefined;
  if (options.proxiedListener) {
    proxied = { listen: [], advertised: [] };
    for (let i = 0; i < count; i += 1) {
      proxied.listen.push(await freePort());
      proxied.advertised.push(await freePort());
    }
  }
  const env = {
    ...process.env,
    KAFKA_PORT: String(ports[0]),
    KAFKA_CONTROLLER_PORT: String(controllerPorts[0]),
    KAFKA_PORTS: ports.join(","),
    KAFKA_CONTROLLER_PORTS: controllerPorts.join(","),
    KAFKA_DATA_DIR: dataDir,
    KAFKA_WATCH_PID: String(options.watchPid ?? process.pid),
    ...(proxied
      ? { KAFKA_PROXIED_PORTS: proxied.listen.join(","), KAFKA_PROXIED_ADVERTISED: proxied.advertised.join(",") }
      : {}),
    ...(options.secure
      ? { KAFKA_SECURE: "1", KAFKA_SASL_SSL_PORT: String(await freePort()), KAFKA_SSL_PORT: String(await freePort()) }
      : {}),
  };
  const call = async (...args: string[]) => {
    await run("bash", [script, ...args], { env, timeout: 180_000 });
  };
  await call("start", "--brokers", String(count));
  const brokers = ports.map((p) => `127.0.0.1:${p}`);
  const secure = options.secure ? await readSecureListeners(dataDir) : undefined;
  return {
    secure,
    brokers,
    dataDir,
    port: ports[0]!,
    proxied,
    nodes: brokers.map((broker, i) => ({
      id: i + 1,
      broker,
      start: () => call("node-start", String(i + 1)),
      stop: () => call("node-stop", String(i + 1)),
      kill: () => call("node-kill", String(i + 1)),
    })),
    start: () => call("start"),
    stop: () => call("stop"),
  };
}

/** The classpath of the Kafka jars, for the Java reference tools (console producer, perf test). */
export async function kafkaClasspath(): Promise<string> {
  const { stdout } = await run("bash", [script, "classpath"], { timeout: 300_000 });
  return stdout.trim();
}
