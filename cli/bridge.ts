/**
 * `fleetsync bridge [--config FILE]`: runs the MQTT broker that writes every record to Kafka before acknowledging.
 * `fleetsync bridge add-truck --file CREDS --truck ID [--password-stdin]`: adds or replaces a truck's credentials.
 */
import { randomBytes } from "node:crypto";
import {
  type BridgeConfig,
  createBridge,
  loadBridgeConfig,
  parseBridgeConfig,
  setTruckSecret,
} from "../bridge/index.ts";
import { FleetError } from "../common/errors.ts";
import { createLogger } from "../common/log.ts";
import { assertTruckId } from "../protocol/truck-id.ts";
import { fastPath } from "../common/kafka/kafkajs-fast-path.ts";
import { parseCommandArgs } from "./commands.ts";
import { stopOnSignals } from "./stop-signals.ts";

const USAGE = `Usage:
  fleetsync bridge [--config FILE]
      Run the bridge until SIGTERM or SIGINT (graceful: in-flight batches finish, within forwarder.drainTimeoutMs;
      SIGINT again a second later stops waiting). Without --config: plain MQTT on 0.0.0.0:1883, metrics on :9464, Kafka from KAFKA_BROKERS
      (default 127.0.0.1:39092), no credentials file (only client certificates could log in). See docs/bridge.md.
  fleetsync bridge add-truck --file CREDS --truck ID [--password-stdin]
      Add or replace a truck's salted scrypt hash in the credentials file (created with mode 0600). Without
      --password-stdin a random password is generated and printed once on stdout.
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function addTruck(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      file: { type: "string" },
      truck: { type: "string" },
      "password-stdin": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.file || !values.truck) throw new FleetError("FLEET_USAGE", "add-truck needs --file and --truck");
  const truckId = assertTruckId(values.truck, "--truck");
  const generated = !values["password-stdin"];
  const password = generated ? randomBytes(18).toString("base64url") : await readStdin();
  if (password.length < 12) throw new FleetError("FLEET_USAGE", "the password must be at least 12 characters");
  await setTruckSecret(values.file, truckId, password);
  if (generated) process.stdout.write(`${password}\n`);
  process.stderr.write(`fleetsync bridge: credentials for ${truckId} written to ${values.file}\n`);
  return 0;
}

function defaultConfig(): BridgeConfig {
  const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",").map((b) => b.trim());
  return parseBridgeConfig({ listener: { tcp: {} }, kafka: { brokers }, http: {} }, "default configuration");
}

async function runBridge(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: { config: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = values.config ? await loadBridgeConfig(values.config) : defaultConfig();
  const logger = createLogger("bridge");
  const bridge = createBridge(config, { logger });
  await bridge.start().catch(async (error: unknown) => {
    // What started before the failing part (the Kafka producer, the downlink's consumer) would keep the process up
    // without an MQTT listener: stop it, so the process exits with the error and systemd restarts it.
    await bridge.stop();
    throw error;
  });
  const tcp = bridge.address("tcp");
  const tls = bridge.address("tls");
  const http = bridge.address("http");
  // One line on stdout with the bound ports, so scripts and tests that ask for port 0 learn them.
  const ready = {
    ready: true,
    tcp: tcp?.port ?? null,
    tls: tls?.port ?? null,
    http: http?.port ?? null,
    kafkajsFastPath: fastPath.active,
    // What the topics got (fewest copies of any), not what was asked for: a one-broker cluster gives 1.
    kafkaReplicationFactor: bridge.replicationFactor(),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  // Stop signals: the first stops gracefully; repeats and Ctrl-C twice as cli/stop-signals.ts says.
  await stopOnSignals(() => bridge.stop(), logger);
  process.stdout.write(`${JSON.stringify({ stopped: true })}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "add-truck") return addTruck(argv.slice(1));
  return runBridge(argv);
}
