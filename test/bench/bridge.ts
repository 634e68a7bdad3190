/**
 * Bridge benchmark (not a test): `npm run bench:bridge`. Figures come beside references measured in the same run
 * on the same machine, so ratios mean something on a noisy 2-core box:
 *   - reference.kafkaPerfTestRecordsPerSec: Kafka's own ProducerPerformance (acks=all, same record size);
 *   - reference.aedesQos1PublishesPerSec: plain Aedes, QoS 1 publish -> subscriber, no Kafka;
 *   - bridge.recordsPerSec (10 records per publish), bridge.publishesPerSec (1 record per publish);
 *   - bridge.latencyMsP50/P99: publish -> Kafka consumer at a paced 5,000 records/s;
 *   - bridge.rssKbPerConnection: RSS growth of a bridge process per idle truck, with CONNECTIONS trucks connected.
 * Kafka: KAFKA_BROKERS, or a local broker started for the run. Ends with one JSON line of the figures.
 * Scale with BENCH_SECONDS (default 8) and BENCH_CONNECTIONS (default 10000).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Aedes } from "aedes";
import { Kafka, logLevel } from "kafkajs";
import mqtt, { type MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import { hashSecret } from "../../bridge/auth/credentials.ts";
import { createBridge } from "../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../bridge/config.ts";
import { freePort, kafkaClasspath, type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";
import { encodeTelemetry } from "../../protocol/codec.ts";
import { roundTo, type TelemetryRecord } from "../../protocol/records.ts";
import { topicFor } from "../../protocol/topics.ts";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const CLIENTS = 40;
const WINDOW = 32;
const PASSWORD = "bench-password-0123456789";
const CHEAP = { N: 16, r: 1, p: 1 }; // benchmark only: the login cost is not what is measured here
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

function record(truckId: string, seq: number, ts = Date.now()): TelemetryRecord {
  return {
    truckId,
    stream: "00000000000000aa",
    seq,
    ts: new Date(ts).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: roundTo(52.5 + (seq % 1000) / 1e5, 7),
      lon: 13.4,
      altM: 40,
      speedKmh: 72.5,
      courseDeg: 181.2,
      sats: 11,
      hdop: 0.8,
    },
    engine: { engineSpeedRpm: 1420 + (seq % 50), coolantTempC: 87, fuelLevelPct: 63.5, wheelSpeedKmh: 72.4 },
  };
}

/** The Kafka record (JSON value) size of one telemetry record, for the Java perf test's --record-size. */
function kafkaRecordSize(): number {
  return Buffer.byteLength(JSON.stringify(record("truck-00001", 1234)));
}

async function credentials(dir: string, trucks: string[]): Promise<string> {
  const file = join(dir, "credentials.json");
  const hash = await hashSecret(PASSWORD, CHEAP);
  // One hash shared by every truck is fine for a benchmark (each entry is still checked on login).
  const entries = Object.fromEntries(trucks.map((t) => [t, hash]));
  await writeFile(file, JSON.stringify({ version: 1, trucks: entries }));
  return file;
}

async function kafkaPerfTest(brokers: string[], topic: string, size: number): Promise<number> {
  const cp = await kafkaClasspath();
  const { stdout } = await run(
    "java",
    [
      ...["-Xmx512m", "-cp", cp, "org.apache.kafka.tools.ProducerPerformance"],
      ...["--topic", topic, "--num-records", "300000", "--record-size", String(size), "--throughput", "-1"],
      ...["--producer-props", `bootstrap.servers=${brokers.join(",")}`, "acks=all", "enable.idempotence=true"],
    ],
    { maxBuffer: 10 * 1024 * 1024, timeout: 300_000 },
  );
  const last = stdout.trim().split("\n").pop() ?? "";
  const match = /([\d.]+) records\/sec/.exec(last);
  log(`kafka-producer-perf-test: ${last}`);
  return match ? Number(match[1]) : Number.NaN;
}

async function aedesReference(): Promise<number> {
  const broker = new Aedes();
  await broker.listen();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const subscriber = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  await subscriber.subscribeAsync("bench/#", { qos: 1 });
  let received = 0;
  subscriber.on("message", () => {
    received += 1;
  });
  const publishers = await Promise.all(
    Array.from({ length: CLIENTS }, () => mqtt.connectAsync(url, { reconnectPeriod: 0 })),
  );
  const payload = encodeTelemetry([record("ref", 1)]);
  const rate = await drive(publishers, (client, i) => client.publishAsync(`bench/${i}`, payload, { qos: 1 }));
  await Promise.all([...publishers, subscriber].map((c) => c.endAsync(true)));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  server.close();
  log(`aedes QoS 1 publish->subscribe: ${rate.toFixed(0)} publishes/s (subscriber got ${received})`);
  return rate;
}

/** Keeps WINDOW publishes in flight per client for SECONDS; returns acknowledged publishes per second. */
async function drive(clients: MqttClient[], publish: (client: MqttClient, i: number, n: number) => Promise<unknown>) {
  let acked = 0;
  const end = Date.now() + SECONDS * 1000;
  const began = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      let n = 0;
      const lane = async () => {
        while (Date.now() < end) {
          n += 1;
          await publish(client, i, n);
          acked += 1;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    }),
  );
  return acked / ((performance.now() - began) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function latency(url: string, brokers: string[], topic: string, trucks: string[]): Promise<[number, number]> {
  const kafka = new Kafka({ brokers, clientId: "bench-latency", logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}`, maxWaitTimeInMs: 5 });
  const samples: number[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  let marker = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const value = JSON.parse(message.value!.toString()) as { ts: string; seq: number };
      if (value.seq >= 1_000_000_000) samples.push(Date.now() - Date.parse(value.ts));
      else marker += 1;
    },
  });
  const clients = await Promise.all(trucks.map((t) => connectBench(url, t)));
  // Wait until the consumer has its partitions: publish markers until one arrives.
  for (let i = 0; marker === 0 && i < 200; i += 1) {
    await clients[0]!.publishAsync(topicFor(trucks[0]!, "telemetry"), encodeTelemetry([record(trucks[0]!, i)]), {
      qos: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
  }
  const perTick = 5; // 5 records every ms-tick across trucks = 5,000 records/s
  const total = 5_000 * Math.min(SECONDS, 6);
  let sent = 0;
  const began = Date.now();
  while (sent < total) {
    const due = Math.floor((Date.now() - began) * perTick);
    for (; sent < due && sent < total; sent += 1) {
      const t = sent % clients.length;
      const id = trucks[t]!;
      void clients[t]!.publishAsync(topicFor(id, "telemetry"), encodeTelemetry([record(id, 1_000_000_000 + sent)]), {
        qos: 1,
      });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = Date.now() + 30_000;
  while (samples.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.disconnect();
  await Promise.all(clients.map((c) => c.endAsync(true)));
  samples.sort((a, b) => a - b);
  log(`latency at 5,000 records/s: ${samples.length}/${total} samples`);
  return [percentile(samples, 50), percentile(samples, 99)];
}

function connectBench(url: string, truckId: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: truckId,
    username: truckId,
    password: PASSWORD,
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** CONNECTIONS idle trucks on a bridge process of its own; raw sockets keep the client side light. */
async function rssPerConnection(
  dir: string,
  brokers: string[],
  topics: Record<string, string>,
): Promise<[number, number]> {
  const trucks = Array.from({ length: CONNECTIONS }, (_, i) => `idle-${i}`);
  const port = await freePort();
  const config = join(dir, "idle.json");
  await writeFile(
    config,
    JSON.stringify({
      listener: { tcp: { host: "127.0.0.1", port }, maxConnections: CONNECTIONS + 100 },
      auth: { credentialsFile: await credentials(dir, trucks), maxConnectionsPerSecondPerSource: 1_000_000 },
      kafka: { brokers, topics, replicationFactor: 1 },
    }),
  );
  const child = spawn(process.execPath, ["--import", "tsx", "cli/fleetsync.ts", "bridge", "--config", config], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  await new Promise<void>((resolve) => child.stdout!.on("data", (c: Buffer) => c.includes('"ready"') && resolve()));
  const sockets: Socket[] = [];
  try {
    // Let start-up allocations settle before the baseline.
    await new Promise((r) => setTimeout(r, 2_000));
    const before = await rssKb(child.pid!);
    let connected = 0;
    for (let i = 0; i < trucks.length; i += 200) {
      await Promise.all(
        trucks.slice(i, i + 200).map(
          (truck) =>
            new Promise<void>((resolve, reject) => {
              const socket = netConnect(port, "127.0.0.1");
              sockets.push(socket);
              socket.once("error", reject);
              socket.once("data", (data) => {
                if (data[0] === 0x20 && data[3] === 0) connected += 1;
                resolve();
              });
              socket.write(
                mqttPacket.generate({
                  cmd: "connect",
                  protocolId: "MQTT",
                  protocolVersion: 4,
                  clean: true,
                  clientId: truck,
                  keepalive: 600,
                  username: truck,
                  password: Buffer.from(PASSWORD),
                }),
              );
            }),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await rssKb(child.pid!);
    log(`idle trucks: ${connected} connected, RSS ${before} KB -> ${after} KB`);
    return [connected, (after - before) / Math.max(1, connected)];
  } finally {
    for (const socket of sockets) socket.destroy();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function main(): Promise<void> {
  const local: LocalKafka | undefined = process.env.KAFKA_BROKERS ? undefined : await startLocalKafka();
  const brokers = process.env.KAFKA_BROKERS?.split(",") ?? local!.brokers;
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-"));
  const suffix = Date.now().toString(36);
  const topics = {
    telemetry: `bench.telemetry.${suffix}`,
    events: `bench.events.${suffix}`,
    status: `bench.status.${suffix}`,
    deadletter: `bench.dead.${suffix}`,
  };
  try {
    const size = kafkaRecordSize();
    const trucks = Array.from({ length: CLIENTS }, (_, i) => `truck-${String(i).padStart(5, "0")}`);
    const bridge = createBridge(
      parseBridgeConfig({
        listener: { tcp: { host: "127.0.0.1", port: 0 } },
        auth: { credentialsFile: await credentials(dir, trucks), maxConnectionsPerSecondPerSource: 100_000 },
        kafka: { brokers, topics, replicationFactor: 1 },
      }),
    );
    await bridge.start();
    const url = `mqtt://127.0.0.1:${bridge.address("tcp")!.port}`;

    const perfTopic = `bench.perf.${suffix}`;
    const kafkaRef = await kafkaPerfTest(brokers, perfTopic, size);
    const aedesRef = await aedesReference();

    let clients = await Promise.all(trucks.map((t) => connectBench(url, t)));
    const batchRate = await drive(clients, (client, i, n) =>
      client.publishAsync(
        topicFor(trucks[i]!, "telemetry"),
        encodeTelemetry(Array.from({ length: 10 }, (_, k) => record(trucks[i]!, n * 10 + k))),
        { qos: 1 },
      ),
    );
    log(
      `bridge, 10 records per publish: ${(batchRate * 10).toFixed(0)} records/s (${batchRate.toFixed(0)} publishes/s)`,
    );
    const singleRate = await drive(clients, (client, i, n) =>
      client.publishAsync(topicFor(trucks[i]!, "telemetry"), encodeTelemetry([record(trucks[i]!, n)]), { qos: 1 }),
    );
    log(`bridge, 1 record per publish: ${singleRate.toFixed(0)} publishes/s`);
    await Promise.all(clients.map((c) => c.endAsync(true)));
    clients = [];

    const [p50, p99] = await latency(url, brokers, topics.telemetry, trucks.slice(0, 20));
    log(`latency publish -> Kafka consumer: p50 ${p50} ms, p99 ${p99} ms`);
    await bridge.stop();

    const [held, perConnection] = await rssPerConnection(dir, brokers, topics);
    log(`RSS per idle connection: ${perConnection.toFixed(1)} KB`);

    log(
      `ratios: bridge records/s vs Kafka perf test ${((batchRate * 10) / kafkaRef).toFixed(2)}; ` +
        `bridge publishes/s vs plain Aedes QoS 1 ${(singleRate / aedesRef).toFixed(2)}`,
    );
    process.stdout.write(
      `${JSON.stringify({
        "bridge.recordsPerSec": Math.round(batchRate * 10),
        "bridge.publishesPerSec": Math.round(singleRate),
        "bridge.latencyMsP50": p50,
        "bridge.latencyMsP99": p99,
        "bridge.connectionsHeld": held,
        "bridge.rssKbPerConnection": Math.round(perConnection * 10) / 10,
        "reference.kafkaPerfTestRecordsPerSec": Math.round(kafkaRef),
        "reference.aedesQos1PublishesPerSec": Math.round(aedesRef),
      })}\n`,
    );
  } finally {
    await local?.stop();
  }
}

await main();
