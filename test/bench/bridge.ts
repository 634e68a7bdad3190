/**
 * Bridge benchmark (not a test): `npm run bench:bridge`. Figures come beside references measured in the same run
 * on the same machine, so ratios mean something on a noisy 2-core box:
 *   - reference.kafkaPerfTestRecordsPerSec: Kafka's own ProducerPerformance (acks=all, same record size);
 *   - reference.aedesQos1PublishesPerSec: plain Aedes, QoS 1 publish -> subscriber, no Kafka;
 *   - bridge.recordsPerSec (10 records per publish), bridge.publishesPerSec (1 record per publish);
 *   - bridge.latencyMsP50/P99: publish -> Kafka consumer at a paced 5,000 records/s;
 *   - bridge.rssKbPerConnection: RSS growth of a bridge process per idle truck, with CONNECTIONS trucks connected;
 *   - bridge.sliceUsPerRecord: CPU the forwarder's arrival FIFO and its 10 ms slices cost per record (1 record per
 *     publish, the worst case), from a CPU profile of a second 1-record run; bridge.sliceCpuShare its share of the
 *     bridge's CPU there.
 * Kafka: KAFKA_BROKERS, or a local broker started for the run. Ends with one JSON line of the figures.
 * Scale with BENCH_SECONDS (default 8) and BENCH_CONNECTIONS (default 10000).
 *
 * The load generators (MQTT publishers, the reference's subscriber, the latency consumer) run in child processes
 * (this same file with `--load`), so the broker under test (the bridge, or plain Aedes for the reference) has its
 * event loop to itself, as it would in production where trucks are other machines. Publishers send payloads
 * encoded before the clock starts (a ring per truck): encoding is the trucks' work, not the broker's.
 */
// First, as in the bridge: kafkajs must load our record encoder, not its own (see kafkajs-fast-path.ts).
import { fastPath } from "../../common/kafka/kafkajs-fast-path.ts";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import type { Profiler } from "node:inspector";
import { Session } from "node:inspector/promises";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Aedes } from "aedes";
import { Kafka, logLevel } from "kafkajs";
import mqtt, { type MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import type { Registry } from "prom-client";
import { hashSecret } from "../../bridge/auth/credentials.ts";
import { createBridge } from "../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../bridge/config.ts";
import { freePort, kafkaClasspath, type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";
import { encodeTelemetry } from "../../protocol/codec.ts";
import { roundTo, type TelemetryRecord } from "../../protocol/records.ts";
import { topicFor } from "../../protocol/topics.ts";
import { benchTopics, deleteBenchTopics } from "./topics.ts";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
/** BENCH_PHASES=latency,single (say) runs only those phases, for quick iterations; the default runs all. */
const PHASES = new Set((process.env.BENCH_PHASES ?? "kafka,aedes,batch,single,slice,latency,idle").split(","));
const CLIENTS = 40;
/** Latency records carry seq from here on, so the consumer tells them from the throughput phases' records. */
const LATENCY_SEQ = 1_000_000_000;
/**
 * The latency phase first runs 2 s of the same load unmeasured (seq just below LATENCY_SEQ): a steady state, not
 * the JIT's first compiles or the garbage collection of the throughput phases' heap.
 */
const LATENCY_WARMUP = 10_000;
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

async function kafkaPerfTest(brokers: string[], topic: string, size: number, partitions: number): Promise<number> {
  // Our Kafka does not create topics on first use (auto.create.topics.enable=false, as in production), so the
  // reference gets its topic the way the bridge gets its own: created up front, with the same partition count.
  const admin = new Kafka({ brokers, clientId: "bench-perf-admin", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    // kafkajs' wait for leaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION of a just-created topic; the Java
    // producer below waits for the topic's metadata on its own (max.block.ms).
    waitForLeaders: false,
  });
  await admin.disconnect();
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

type LoadJob =
  | { mode: "throughput"; url: string; trucks: string[]; recordsPerPublish: number; auth: boolean; subscribe: boolean }
  | { mode: "latency"; url: string; trucks: string[]; total: number }
  | { mode: "consume"; brokers: string[]; topic: string; total: number };

/**
 * Starts one load job in a child process (this file with --load). `ready` resolves when the child prints a line
 * "ready" (a consumer that has its partitions), `result` with the JSON line it prints last.
 */
function startChild<T>(job: LoadJob): { ready: Promise<void>; result: Promise<T> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--load", JSON.stringify(job)],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"],
      env: process.env,
    },
  );
  let out = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk;
    if (/^ready$/m.test(out)) markReady();
  });
  const result = new Promise<number | null>((resolve) => child.once("exit", resolve)).then((code) => {
    if (code !== 0) throw new Error(`load generator (${job.mode}) exited with ${code}`);
    return JSON.parse(out.trim().split("\n").pop()!) as T;
  });
  return { ready: Promise.race([ready, result.then(() => undefined)]), result };
}

const inChild = <T>(job: LoadJob): Promise<T> => startChild<T>(job).result;

async function aedesReference(): Promise<number> {
  const broker = new Aedes();
  await broker.listen();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const trucks = Array.from({ length: CLIENTS }, (_, i) => `ref-${i}`);
  const { publishesPerSec, received } = await inChild<{ publishesPerSec: number; received: number }>({
    mode: "throughput",
    url,
    trucks,
    recordsPerPublish: 1,
    auth: false,
    subscribe: true,
  });
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  server.close();
  log(`aedes QoS 1 publish->subscribe: ${publishesPerSec.toFixed(0)} publishes/s (subscriber got ${received})`);
  return publishesPerSec;
}

/** Child side: keeps WINDOW publishes in flight per client for SECONDS; prints acknowledged publishes per second. */
async function loadThroughput(job: Extract<LoadJob, { mode: "throughput" }>): Promise<void> {
  let subscriber: MqttClient | undefined;
  let received = 0;
  if (job.subscribe) {
    subscriber = await mqtt.connectAsync(job.url, { reconnectPeriod: 0 });
    await subscriber.subscribeAsync("fleetsync/#", { qos: 1 });
    subscriber.on("message", () => {
      received += 1;
    });
  }
  const clients = await Promise.all(
    job.trucks.map((t) => (job.auth ? connectBench(job.url, t) : mqtt.connectAsync(job.url, { reconnectPeriod: 0 }))),
  );
  // A ring of payloads per truck, encoded before the clock starts; seq keeps rising across the ring.
  const RING = 64;
  const per = job.recordsPerPublish;
  const rings = job.trucks.map((truck) =>
    Array.from({ length: RING }, (_, n) =>
      encodeTelemetry(Array.from({ length: per }, (_, k) => record(truck, n * per + k))),
    ),
  );
  let acked = 0;
  const end = Date.now() + SECONDS * 1000;
  const began = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      const topic = topicFor(job.trucks[i]!, "telemetry");
      let n = 0;
      const lane = async () => {
        while (Date.now() < end) {
          n += 1;
          await client.publishAsync(topic, rings[i]![n % RING]!, { qos: 1 });
          acked += 1;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    }),
  );
  const publishesPerSec = acked / ((performance.now() - began) / 1000);
  await Promise.all([...clients, ...(subscriber ? [subscriber] : [])].map((c) => c.endAsync(true)));
  process.stdout.write(`${JSON.stringify({ publishesPerSec, received })}\n`);
}

/** Count, mean records and mean time of the bridge's sendBatch calls, from its own Prometheus histograms. */
async function batchSummary(bridge: { metrics: { registry: Registry } }): Promise<string> {
  const metrics = await bridge.metrics.registry.getMetricsAsJSON();
  const mean = (name: string) => {
    const values = (metrics.find((m) => m.name === name)?.values ?? []) as { metricName?: string; value: number }[];
    const sum = values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? Number.NaN;
    const count = values.find((v) => v.metricName?.endsWith("_count"))?.value ?? Number.NaN;
    return [count, sum / count];
  };
  const [count, records] = mean("fleetsync_bridge_kafka_batch_records");
  const [, seconds] = mean("fleetsync_bridge_kafka_batch_seconds");
  return `${count} batches, ${records!.toFixed(0)} records and ${(seconds! * 1000).toFixed(1)} ms each on average`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Child side: publishes at a paced 5,000 records/s and times each record to a Kafka consumer (same clock). */
/**
 * Publishes LATENCY_WARMUP + `total` single-record publishes paced at 5,000 records/s; prints the publish -> PUBACK
 * percentiles of the last `total`.
 */
async function loadLatency({ url, trucks, total }: Extract<LoadJob, { mode: "latency" }>): Promise<void> {
  const clients = await Promise.all(trucks.map((t) => connectBench(url, t)));
  const acks: number[] = [];
  const perTick = 5; // 5 records every ms-tick across trucks = 5,000 records/s
  const all = LATENCY_WARMUP + total;
  let sent = 0;
  const began = Date.now();
  while (sent < all) {
    const due = Math.floor((Date.now() - began) * perTick);
    for (; sent < due && sent < all; sent += 1) {
      const t = sent % clients.length;
      const id = trucks[t]!;
      const at = performance.now();
      const seq = LATENCY_SEQ - LATENCY_WARMUP + sent;
      const acked = clients[t]!.publishAsync(topicFor(id, "telemetry"), encodeTelemetry([record(id, seq)]), { qos: 1 });
      if (seq >= LATENCY_SEQ) void acked.then(() => acks.push(performance.now() - at));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = Date.now() + 30_000;
  while (acks.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(clients.map((c) => c.endAsync(true)));
  acks.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ acked: acks.length, p50: percentile(acks, 50), p99: percentile(acks, 99) })}\n`,
  );
}

/**
 * The backend team's side, in a process of its own (as it would be): a kafkajs consumer that starts at the topic's
 * current end, says "ready" once it has its partitions, and times each latency record from its `ts` (set by the
 * publisher just before publishing) to the moment its fetch arrived.
 */
async function loadConsume({ brokers, topic, total }: Extract<LoadJob, { mode: "consume" }>): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: "bench-latency", logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  const samples: number[] = [];
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const arrived = Date.now();
      for (const message of batch.messages) {
        const value = JSON.parse(message.value!.toString()) as { ts: string; seq: number };
        if (value.seq >= LATENCY_SEQ) samples.push(arrived - Date.parse(value.ts));
      }
    },
  });
  for (const { partition, offset } of ends) consumer.seek({ topic, partition, offset });
  await joined;
  process.stdout.write("ready\n");
  const deadline = Date.now() + 60_000;
  while (samples.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.disconnect();
  samples.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ received: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99) })}\n`,
  );
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

/** Consumer first (ready at the topic's end), then the publisher; each in its own process. */
async function measureLatency(url: string, brokers: string[], topic: string, trucks: string[], total: number) {
  const consumer = startChild<{ received: number; p50: number; p99: number }>({
    mode: "consume",
    brokers,
    topic,
    total,
  });
  await consumer.ready;
  const acks = await inChild<{ acked: number; p50: number; p99: number }>({ mode: "latency", url, trucks, total });
  const consumed = await consumer.result;
  log(`latency at 5,000 records/s: ${acks.acked}/${total} acknowledged, ${consumed.received}/${total} consumed`);
  log(`  publish -> PUBACK (Kafka acknowledged): p50 ${acks.p50.toFixed(1)} ms, p99 ${acks.p99.toFixed(1)} ms`);
  return { p50: consumed.p50, p99: consumed.p99 };
}

/**
 * The forwarder's "logins before backlogs" machinery (bridge/forwarder/forwarder.ts: `whenTurn` queues a publish's
 * work in a Fifo and schedules a slice with setImmediate; `slice` runs queued work for up to 10 ms, reading the clock
 * after each), measured in place: `work` runs under the V8 sampling profiler and every sample whose stack is inside
 * `whenTurn`, or inside `slice` but not inside the queued work it calls, is the machinery's. Left out: allocating
 * the queued closure (one per publish, in authorizePublish's own frame) and Node's processImmediate around `slice`,
 * shared with other immediates. What the samples showed (session 9, load 6-8): mostly `slice`'s own loop, then the
 * clock reads (`now`), setImmediate and the Fifo's push and shift. Returns the machinery's microseconds over `work`
 * and its share of the process's busy (non-idle) samples.
 */
async function sliceCost<T>(work: () => Promise<T>): Promise<{ result: T; us: number; share: number }> {
  const session = new Session();
  session.connect();
  let profile: Profiler.Profile;
  let result: T;
  try {
    await session.post("Profiler.enable");
    // 200 µs between samples: one slice's own cost is well under a millisecond, so the default 1 ms is coarse.
    await session.post("Profiler.setSamplingInterval", { interval: 200 });
    await session.post("Profiler.start");
    try {
      result = await work();
    } finally {
      ({ profile } = await session.post("Profiler.stop"));
    }
  } finally {
    session.disconnect();
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inForwarder = (n: Profiler.ProfileNode, name: string) =>
    n.callFrame.functionName === name && n.callFrame.url.endsWith("bridge/forwarder/forwarder.ts");
  /** Whether a sample at node `id` is the machinery's own work (see above). */
  const verdict = new Map<number, boolean>();
  const isMachinery = (id: number): boolean => {
    const known = verdict.get(id);
    if (known !== undefined) return known;
    let answer = false;
    let child: Profiler.ProfileNode | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)!;
      if (inForwarder(n, "whenTurn")) {
        answer = true;
        break;
      }
      if (inForwarder(n, "slice")) {
        // Its own loop, the Fifo's shift and the clock read, not the publish work it hands each item to.
        answer = child === undefined || ["shift", "now", "peek"].includes(child.callFrame.functionName);
        break;
      }
      child = n;
    }
    verdict.set(id, answer);
    return answer;
  };
  let machineryUs = 0;
  let busyUs = 0;
  const samples = profile.samples ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    const node = byId.get(samples[i]!)!;
    const us = profile.timeDeltas?.[i + 1] ?? 0;
    if (node.callFrame.functionName === "(idle)") continue;
    busyUs += us;
    if (isMachinery(node.id)) machineryUs += us;
  }
  // None at all means the names above no longer match the forwarder's: a figure of 0 would be a lie.
  if (machineryUs === 0) throw new Error("no profile sample in forwarder.ts whenTurn/slice: were they renamed?");
  return { result: result!, us: machineryUs, share: machineryUs / Math.max(1, busyUs) };
}

async function main(): Promise<void> {
  const local: LocalKafka | undefined = process.env.KAFKA_BROKERS ? undefined : await startLocalKafka();
  const brokers = process.env.KAFKA_BROKERS?.split(",") ?? local!.brokers;
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-"));
  const topics = benchTopics("bridge");
  const suffix = Date.now().toString(36);
  try {
    const size = kafkaRecordSize();
    const trucks = Array.from({ length: CLIENTS }, (_, i) => `truck-${String(i).padStart(5, "0")}`);
    const config = parseBridgeConfig({
      listener: { tcp: { host: "127.0.0.1", port: 0 } },
      auth: { credentialsFile: await credentials(dir, trucks), maxConnectionsPerSecondPerSource: 100_000 },
      kafka: { brokers, topics, replicationFactor: 1 },
    });
    const bridge = createBridge(config);
    await bridge.start();
    const url = `mqtt://127.0.0.1:${bridge.address("tcp")!.port}`;

    const perfTopic = `bench.perf.${suffix}`;
    const kafkaRef = PHASES.has("kafka")
      ? await kafkaPerfTest(brokers, perfTopic, size, config.kafka.partitions)
      : Number.NaN;
    const aedesRef = PHASES.has("aedes") ? await aedesReference() : Number.NaN;

    const throughput = (recordsPerPublish: number) =>
      inChild<{ publishesPerSec: number }>({
        mode: "throughput",
        url,
        trucks,
        recordsPerPublish,
        auth: true,
        subscribe: false,
      }).then((r) => r.publishesPerSec);
    const batchRate = PHASES.has("batch") ? await throughput(10) : Number.NaN;
    log(
      `bridge, 10 records per publish: ${(batchRate * 10).toFixed(0)} records/s (${batchRate.toFixed(0)} publishes/s)`,
    );
    const singleRate = PHASES.has("single") ? await throughput(1) : Number.NaN;
    log(`bridge, 1 record per publish: ${singleRate.toFixed(0)} publishes/s`);
    // Its own run: the profiler's sampling slows the bridge a little, so the figures above are taken without it.
    const slice = PHASES.has("slice")
      ? await sliceCost(() => throughput(1)).then(({ result, us, share }) => ({
          usPerRecord: us / Math.max(1, result * SECONDS),
          share,
        }))
      : { usPerRecord: Number.NaN, share: Number.NaN };
    log(
      `forwarder arrival FIFO and 10 ms slices, 1 record per publish: ${slice.usPerRecord.toFixed(2)} µs CPU per ` +
        `record, ${(slice.share * 100).toFixed(1)}% of the bridge's CPU (load average ${loadavg()[0]!.toFixed(1)})`,
    );

    // The bridge's own event-loop delay during the latency phase: tells a slow bridge from a starved machine.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const total = 5_000 * Math.min(SECONDS, 6);
    const { p50, p99 } = PHASES.has("latency")
      ? await measureLatency(url, brokers, topics.telemetry, trucks.slice(0, 20), total)
      : { p50: Number.NaN, p99: Number.NaN };
    loopDelay.disable();
    log(`latency publish -> Kafka consumer: p50 ${p50} ms, p99 ${p99} ms`);
    log(
      `  bridge event-loop delay meanwhile: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, ` +
        `max ${(loopDelay.max / 1e6).toFixed(1)} ms`,
    );
    log(`bridge Kafka batches over the whole run: ${await batchSummary(bridge)}`);
    await bridge.stop();

    const [held, perConnection] = PHASES.has("idle")
      ? await rssPerConnection(dir, brokers, topics)
      : [Number.NaN, Number.NaN];
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
        "bridge.sliceUsPerRecord": Math.round(slice.usPerRecord * 100) / 100,
        "bridge.sliceCpuShare": Math.round(slice.share * 1000) / 1000,
        "reference.kafkaPerfTestRecordsPerSec": Math.round(kafkaRef),
        "reference.aedesQos1PublishesPerSec": Math.round(aedesRef),
      })}\n`,
    );
  } finally {
    await deleteBenchTopics(brokers, [...Object.values(topics), `bench.perf.${suffix}`]);
    await local?.stop();
  }
}

if (process.argv[2] === "--load") {
  const job = JSON.parse(process.argv[3]!) as LoadJob;
  if (job.mode === "latency") await loadLatency(job);
  else if (job.mode === "consume") await loadConsume(job);
  else await loadThroughput(job);
} else {
  log("load generators run in a child process; the broker under test has this process to itself");
  log(`kafkajs fast path: ${fastPath.active ? "active" : `inactive (${fastPath.reason})`}`);
  await main();
}
