/** Shared set-up for the bridge's integration tests: a real bridge on free ports, its own topics and credentials. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type IClientOptions, type IConnackPacket, MqttClient, type StreamBuilder } from "mqtt";
import { setTruckSecret } from "../../../bridge/auth/credentials.ts";
import { type Bridge, createBridge } from "../../../bridge/bridge.ts";
import { type BridgeConfig, parseBridgeConfig } from "../../../bridge/config.ts";
import { roundTo, type TelemetryRecord } from "../../../protocol/records.ts";
import { type ReadRecord, uniqueTopic } from "../../support/kafka.ts";

/** Cheap scrypt cost for tests only (production uses DEFAULT_SCRYPT); the file format carries the parameters. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };
export const PASSWORD = "correct horse battery staple";

export interface TestTopics {
  telemetry: string;
  events: string;
  status: string;
  deadletter: string;
  latest: string;
}

export function testTopics(prefix: string): TestTopics {
  return {
    telemetry: uniqueTopic(`${prefix}-telemetry`),
    events: uniqueTopic(`${prefix}-events`),
    status: uniqueTopic(`${prefix}-status`),
    deadletter: uniqueTopic(`${prefix}-dead`),
    latest: uniqueTopic(`${prefix}-latest`),
  };
}

export interface Workspace {
  dir: string;
  credentialsFile: string;
  remove(): Promise<void>;
}

export async function workspace(trucks: string[]): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bridge-"));
  const credentialsFile = join(dir, "credentials.json");
  for (const truck of trucks) await setTruckSecret(credentialsFile, truck, PASSWORD, TEST_SCRYPT);
  return { dir, credentialsFile, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function bridgeConfig(options: {
  brokers: string[];
  topics: TestTopics;
  credentialsFile: string;
  port?: number;
  forwarder?: Record<string, unknown>;
  partitions?: number;
  /** More Kafka connection settings (tls, sasl: issue 23). */
  kafka?: Record<string, unknown>;
}): BridgeConfig {
  return parseBridgeConfig({
    listener: { tcp: { host: "127.0.0.1", port: options.port ?? 0 } },
    auth: { credentialsFile: options.credentialsFile, maxConnectionsPerSecondPerSource: 10_000 },
    kafka: {
      brokers: options.brokers,
      topics: options.topics,
      partitions: options.partitions ?? 6,
      replicationFactor: 1,
      connectionTimeoutMs: 1_000,
      ...options.kafka,
    },
    forwarder: { retryMaxMs: 500, ...options.forwarder },
    http: { host: "127.0.0.1", port: 0 },
  });
}

export async function startBridge(config: BridgeConfig): Promise<{ bridge: Bridge; port: number; url: string }> {
  const bridge = createBridge(config);
  await bridge.start();
  const port = bridge.address("tcp")!.port;
  return { bridge, port, url: `mqtt://127.0.0.1:${port}` };
}

export function connectTruck(port: number, truckId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: truckId,
    username: truckId,
    password: PASSWORD,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once("error", onError);
    client.once("connect", () => {
      // After the first connect, errors (a refused reconnect) must not end the client: it keeps retrying.
      client.off("error", onError);
      client.on("error", () => undefined);
      resolve(client);
    });
  });
}

let counter = 0;
export function telemetry(truckId: string, seq: number, stream = "0123456789abcdef"): TelemetryRecord {
  counter += 1;
  return {
    truckId,
    stream,
    seq,
    ts: new Date(Date.UTC(2026, 10, 21, 5, 0, 0) + seq * 1000).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: roundTo(52.52 + (counter % 100) / 10_000, 7),
      lon: 13.405,
      altM: 34.5,
      speedKmh: 61.2,
      courseDeg: 90.5,
      sats: 9,
      hdop: 0.9,
    },
    engine: { engineSpeedRpm: 1450, coolantTempC: 88 },
  };
}

export async function closeAll(clients: MqttClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

export function byKey(records: ReadRecord[], key: string): ReadRecord[] {
  return records.filter((r) => r.key === key);
}

export type ConnectAttempt =
  { ok: true; client: MqttClient; connack: IConnackPacket } | { ok: false; reasonCode?: number; error: string };

/**
 * One MQTT connection attempt over a stream the caller opens (from a chosen source address, or TLS with a client
 * certificate). Resolves with the CONNACK, the refusal's reason code (CONNACK refusals), or a close without any
 * CONNACK (a listener limit); never rejects, never retries.
 */
export function attemptConnect(stream: StreamBuilder, options: IClientOptions): Promise<ConnectAttempt> {
  const client = new MqttClient(stream, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  return new Promise((resolve) => {
    const finish = (result: ConnectAttempt) => {
      // Only our own listeners: MqttClient keeps its state (connected, ...) in listeners of the same events.
      client.off("connect", onConnect).off("error", onError).off("close", onClose);
      client.on("error", () => undefined);
      if (!result.ok) client.end(true);
      resolve(result);
    };
    const onConnect = (connack: IConnackPacket) => finish({ ok: true, client, connack });
    const onError = (error: Error & { code?: unknown }) =>
      finish({
        ok: false,
        error: error.message,
        ...(typeof error.code === "number" ? { reasonCode: error.code } : {}),
      });
    const onClose = () => finish({ ok: false, error: "closed before CONNACK" });
    client.once("connect", onConnect).once("error", onError).once("close", onClose);
  });
}

/** The current value of one of the bridge's counters for the given labels (0 before it was first counted). */
export async function counterValue(bridge: Bridge, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await bridge.metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return match?.value ?? 0;
}
