/**
 * Detect benchmark (issue 18): records/s through all five detectors (`fleetsync detect`, the real command, a child
 * process, each batch a Kafka transaction) beside a bare kafkajs consumer of the same topics in the same run
 * (target >= 0.5x); the checkpointed state per truck (bytes of its changelog entries); and the alert latency from a
 * triggering record's arrival in Kafka to the alert being readable (read_committed) in the alerts topic, p99.
 *
 * Fair by construction: both read the same records of the same topics from the start, with the same fetch settings
 * (bytes per partition, wait, partitions handled side by side), in rounds that alternate which goes first (a
 * machine that gets busier or calmer during the run favours neither), and the figures are those of the round with
 * the median ratio, each round printed with the load average beside it. A round is a few seconds: one round's ratio
 * moves with whatever else the machine does, the median of several does much less.
 *
 *   npm run bench:detect        (BENCH_DETECT_TRUCKS scripted trucks, default 4,000: about 225,000 records;
 *                                BENCH_DETECT_ROUNDS rounds, default 5; KAFKA_BROKERS is used when set, else a
 *                                local Kafka starts for the run)
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Kafka, logLevel } from "kafkajs";
import { planScenarioFleet, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { REPO } from "../e2e/bridge.ts";
import { startKafka } from "../e2e/kafka.ts";
import { DetectConfigSchema } from "../../pipelines/detect/config.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { cpuSeconds } from "./cpu.ts";
import { httpGet } from "./http.ts";

const TRUCKS = Number(process.env.BENCH_DETECT_TRUCKS ?? 4_000);
const LIVE_ALERTS = Number(process.env.BENCH_DETECT_LIVE ?? 300);
const ROUNDS = Number(process.env.BENCH_DETECT_ROUNDS ?? 5);
const PARTITIONS = 4;
/** The fetch settings both readers use: detect's defaults (the runner waits at most 100 ms for a fetch to fill). */
const DETECT_DEFAULTS = DetectConfigSchema.parse({ kafka: { brokers: ["unused:9092"] } });
const FETCH = {
  maxBytesPerPartition: Number(process.env.BENCH_DETECT_FETCH_BYTES ?? DETECT_DEFAULTS.fetchBytes),
  maxWaitTimeInMs: 100,
  partitionsConsumedConcurrently: DETECT_DEFAULTS.partitionsConsumedConcurrently,
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

async function keptRecords(port: number): Promise<number> {
  return (await httpGet(port, "/metrics"))
    .split("\n")
    .filter((l) => l.startsWith("fleetsync_pipeline_records_total") && l.includes('result="kept"'))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

async function until(done: () => Promise<boolean> | boolean, what: string, timeoutS = 1_800): Promise<void> {
  const began = Date.now();
  while (!(await done())) {
    if (Date.now() - began > timeoutS * 1000) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Reading {
  recordsPerSec: number;
  /** CPU time per record (µs) of the reading process, from its first record to its last. */
  cpuUsPerRecord: number;
}

/** A bare kafkajs consumer reading the topics from the start: records/s from its first record to the last. */
async function bareConsumer(kafka: Kafka, topics: string[], total: number): Promise<Reading> {
  const consumer = kafka.consumer({
    groupId: `bench-bare-${randomBytes(4).toString("hex")}`,
    maxWaitTimeInMs: FETCH.maxWaitTimeInMs,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let seen = 0;
  let first = 0n;
  let last = 0n;
  let cpuAtFirst = process.cpuUsage();
  let cpu = cpuAtFirst;
  await consumer.run({
    partitionsConsumedConcurrently: FETCH.partitionsConsumedConcurrently,
    eachBatch: async ({ batch }) => {
      if (first === 0n) {
        first = process.hrtime.bigint();
        cpuAtFirst = process.cpuUsage();
      }
      // The same work per record the pipeline cannot skip: parse the JSON value.
      for (const m of batch.messages) if (m.value) JSON.parse(m.value.toString());
      seen += batch.messages.length;
      if (seen >= total && last === 0n) {
        last = process.hrtime.bigint();
        cpu = process.cpuUsage(cpuAtFirst);
      }
    },
  });
  await until(() => seen >= total, "the bare consumer");
  await consumer.disconnect();
  // This process's CPU in the window includes the benchmark's own polling: a little high.
  return { recordsPerSec: total / (Number(last - first) / 1e9), cpuUsPerRecord: (cpu.user + cpu.system) / total };
}

/** Bytes of each key's newest value in a topic, read to its end. */
async function newestValues(kafka: Kafka, topic: string): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const pending = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high) - 1n]),
  );
  const sizes = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `bench-read-${randomBytes(4).toString("hex")}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const end = pending.get(e.payload.partition);
    if (end !== undefined && BigInt(e.payload.lastOffset) >= end) pending.delete(e.payload.partition);
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key!.toString();
      if (message.value === null) sizes.delete(key);
      else sizes.set(key, message.key!.length + message.value.length);
    },
  });
  await until(() => pending.size === 0, `the end of ${topic}`, 300);
  await consumer.disconnect();
  return sizes;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-detect-"));
  const kafkaRun = await startKafka();
  const kafka = new Kafka({ brokers: kafkaRun.brokers, clientId: "bench-detect", logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const suffix = randomBytes(3).toString("hex");
  const topics = {
    telemetry: `bench.detect.t.${suffix}`,
    events: `bench.detect.e.${suffix}`,
    status: `bench.detect.s.${suffix}`,
    alerts: `bench.detect.alerts.${suffix}`,
    changelog: `bench.detect.state.${suffix}`,
  };
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topics.telemetry, topics.events, topics.status].map((topic) => ({ topic, numPartitions: PARTITIONS })),
    });
    const startTimeMs = Math.floor((Date.now() - 3 * 3_600_000) / 1000) * 1000;
    const fleet = planScenarioFleet({ trucks: TRUCKS, startTimeMs, prefix: `b${suffix}` });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    let total = 0;
    for (let i = 0; i < fleet.length; i += 40) {
      const messages = { telemetry: [] as { key: string; value: string; timestamp: string }[], events: [] as never[] };
      for (const truck of fleet.slice(i, i + 40)) {
        for (const { atMs, record } of truck.plan.records) {
          (messages[record.kind] as { key: string; value: string; timestamp: string }[]).push({
            key: truck.truckId,
            value: JSON.stringify(record.value),
            timestamp: String(startTimeMs + atMs + 1_000),
          });
        }
      }
      total += messages.telemetry.length + messages.events.length;
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          { topic: topics.telemetry, messages: messages.telemetry },
          { topic: topics.events, messages: messages.events },
        ],
      });
    }
    process.stdout.write(`produced ${total} records of ${TRUCKS} scripted trucks\n`);

    const fencesFile = join(dir, "fences.json");
    await writeFile(fencesFile, JSON.stringify(scenarioFleetFences(fleet)));
    // BENCH_DETECT_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to look inside the service.
    const nodeArgs = (process.env.BENCH_DETECT_NODE_ARGS ?? "").split(" ").filter(Boolean);

    /** One `fleetsync detect` from the start of the topics, with its own group, alerts and changelog topics. */
    async function detectRound(round: number) {
      const own = { ...topics, alerts: `${topics.alerts}.${round}`, changelog: `${topics.changelog}.${round}` };
      const configFile = join(dir, `detect-${round}.json`);
      await writeFile(
        configFile,
        JSON.stringify({
          groupId: `bench-detect-${suffix}-${round}`,
          kafka: { brokers: kafkaRun.brokers },
          topics: own,
          createTopics: { partitions: PARTITIONS },
          fetchBytes: FETCH.maxBytesPerPartition,
          partitionsConsumedConcurrently: FETCH.partitionsConsumedConcurrently,
          detectors: { geofence: { file: fencesFile } },
          http: { port: 0 },
        }),
      );
      child = spawn(process.execPath, [...nodeArgs, ...fleetsyncCommand(), "detect", "--config", configFile], {
        cwd: REPO,
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
      });
      const running = child;
      const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
      const port = await new Promise<number>((resolve, reject) => {
        createInterface({ input: running.stdout! }).on("line", (line) => {
          if (line.includes('"ready":true')) resolve((JSON.parse(line) as { http: number }).http);
        });
        void exited.then(() => reject(new Error("fleetsync detect exited during start-up")));
      });
      // The rate counts from the first record handled, so the process start and the group join are not in it.
      await until(async () => (await keptRecords(port)) > 0, "the first record");
      const first = await keptRecords(port);
      const t1 = process.hrtime.bigint();
      const cpu1 = await cpuSeconds(running.pid!);
      await until(async () => (await keptRecords(port)) >= total, "all records through the detectors");
      const recordsPerSec = (total - first) / (Number(process.hrtime.bigint() - t1) / 1e9);
      const cpuUsPerRecord = (((await cpuSeconds(running.pid!)) - cpu1) * 1e6) / (total - first);
      const stop = async () => {
        running.kill("SIGTERM");
        await exited;
        child = undefined;
      };
      return { recordsPerSec, cpuUsPerRecord, topics: own, stop };
    }

    // A first read, untimed: the broker's page cache and this process's JIT are warm for every round alike.
    await bareConsumer(kafka, [topics.telemetry, topics.events], total);
    // Rounds, alternating which reader goes first; every detect but the last's is stopped and its topics deleted.
    const rounds: { bare: number; detect: number; ratio: number }[] = [];
    let last: Awaited<ReturnType<typeof detectRound>> | undefined;
    for (let round = 1; round <= ROUNDS; round += 1) {
      let bare: Reading | undefined;
      const loadBefore = load();
      if (round % 2 === 1) bare = await bareConsumer(kafka, [topics.telemetry, topics.events], total);
      last = await detectRound(round);
      bare ??= await bareConsumer(kafka, [topics.telemetry, topics.events], total);
      const ratio = last.recordsPerSec / bare.recordsPerSec;
      rounds.push({ bare: bare.recordsPerSec, detect: last.recordsPerSec, ratio });
      process.stdout.write(
        `round ${round}: bare kafkajs consumer ${Math.round(bare.recordsPerSec)} records/s ` +
          `(${bare.cpuUsPerRecord.toFixed(1)} µs CPU each), fleetsync detect ${Math.round(last.recordsPerSec)} ` +
          `records/s through five detectors (${last.cpuUsPerRecord.toFixed(1)} µs CPU each): ${ratio.toFixed(2)}x ` +
          `(load average ${loadBefore} -> ${load()})\n`,
      );
      if (round === ROUNDS) break;
      await last.stop();
      await admin.deleteTopics({ topics: [last.topics.alerts, last.topics.changelog] }).catch(() => undefined);
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;
    const recordsPerSec = median.detect;
    const consumerRecordsPerSec = median.bare;
    process.stdout.write(
      `median of ${rounds.length} rounds: ${median.ratio.toFixed(2)}x (detect ${Math.round(recordsPerSec)}, bare ` +
        `${Math.round(consumerRecordsPerSec)} records/s); ratios ${rounds.map((r) => r.ratio.toFixed(2)).join(", ")}\n`,
    );
    const detect = last!;

    // State per truck: the newest changelog entries of each truck (all its topic partitions), in bytes.
    const sizes = await newestValues(kafka, detect.topics.changelog);
    const perTruck = new Map<string, number>();
    for (const [key, bytes] of sizes) {
      if (!key.startsWith("truck|")) continue;
      const truckId = key.slice(key.lastIndexOf("|") + 1);
      perTruck.set(truckId, (perTruck.get(truckId) ?? 0) + bytes);
    }
    const stateBytesPerTruck = [...perTruck.values()].reduce((a, b) => a + b, 0) / Math.max(1, perTruck.size);
    process.stdout.write(`state: ${perTruck.size} trucks, ${stateBytesPerTruck.toFixed(0)} bytes each on average\n`);

    // Live: trouble codes raised by trucks already caught up; each opens an alert at once.
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const reader = kafka.consumer({ groupId: `bench-alerts-${suffix}`, maxWaitTimeInMs: 20 });
    await reader.connect();
    // From the start (the catch-up's alerts are skipped below): a group that starts "from now" could begin after
    // the first trigger's alert.
    await reader.subscribe({ topic: detect.topics.alerts, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const alert = JSON.parse(message.value!.toString()) as { truckId: string; detector: string };
        const at = sent.get(alert.truckId);
        if (alert.detector === "dtc" && at !== undefined) latencies.push(Date.now() - at);
      },
    });
    const live = fleet.filter((t) => t.scenario === "idle").slice(0, LIVE_ALERTS);
    for (const [i, truck] of live.entries()) {
      const events = truck.plan.records.filter((r) => r.record.kind === "events").length;
      const tsMs = startTimeMs + truck.plan.durationMs + 60_000;
      const event = {
        truckId: truck.truckId,
        stream: truck.plan.records[0]!.record.value.stream,
        seq: events,
        ts: new Date(tsMs).toISOString(),
        timeSource: "gnss",
        type: "dtc",
        change: "raised",
        dtc: { j1939: { spn: 100, fmi: 1, oc: 1, sa: 0 } },
      };
      const now = Date.now();
      sent.set(truck.truckId, now);
      await producer.send({
        topic: topics.events,
        acks: -1,
        messages: [{ key: truck.truckId, value: JSON.stringify(event), timestamp: String(now) }],
      });
      // About 100 triggers per second, spread over the partitions.
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await until(() => latencies.length >= live.length, "the live alerts", 120);
    await reader.disconnect();
    await producer.disconnect();
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    process.stdout.write(`alert latency (Kafka arrival -> alert readable): p50 ${p(0.5)} ms, p99 ${p(0.99)} ms\n`);

    await detect.stop();
    await admin
      .deleteTopics({ topics: [...Object.values(topics), ...Object.values(detect.topics)] })
      .catch(() => undefined);
    process.stdout.write(
      `${JSON.stringify({
        "detect.recordsPerSec": Math.round(recordsPerSec),
        "detect.consumerRecordsPerSec": Math.round(consumerRecordsPerSec),
        "detect.stateBytesPerTruck": Math.round(stateBytesPerTruck),
        "detect.alertLatencyMsP99": p(0.99),
      })}\n`,
    );
  } finally {
    child?.kill("SIGKILL");
    await admin.disconnect();
    await kafkaRun.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
