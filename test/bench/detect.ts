/**
 * Detect benchmark (issue 18): records/s through all five detectors (`fleetsync detect`, the real command, a child
 * process, each batch a Kafka transaction) beside a bare kafkajs consumer of the same topics in the same run
 * (target >= 0.5x); the checkpointed state per truck (bytes of its changelog entries); and the alert latency from a
 * triggering record's arrival in Kafka to the alert being readable (read_committed) in the alerts topic, p99.
 *
 * Fair by construction: both read the same records of the same topics, with the same fetch settings (bytes per
 * partition, wait, partitions handled side by side), at the same time: the bare consumer starts once detect is
 * reading, and both rates are taken over the same stretch of time, from when both have read a fifth of the records
 * (start-up and JIT outside it for both) to when detect has read them all. The bare consumer, about twice as fast,
 * would finish long before (windows of 0.6-1.3 s, whose ratios wandered 0.35-0.61x): it reads each partition around
 * and around instead (back to the partition's start at its end, the same records again) until detect is done, so
 * every round measures several seconds of both. One after the other, a round's ratio followed whatever else the
 * machine did (0.18x-1.55x in the rounds of one run at load 8-15); side by side, load meets both alike. Each
 * reader's CPU time per record is printed too (hardly moved by load), with the load average; rounds repeat, and the
 * figures are the round with the median ratio.
 *
 *   npm run bench:detect        (BENCH_DETECT_TRUCKS scripted trucks, default 10,000: about 560,000 records;
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
import { readToEnd } from "../../common/kafka/read-to-end.ts";
import { DetectConfigSchema } from "../../pipelines/detect/config.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { cpuSeconds } from "./cpu.ts";
import { httpGet } from "./http.ts";

const TRUCKS = Number(process.env.BENCH_DETECT_TRUCKS ?? 10_000);
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

/** A reader's count of records read, over time (ms, this process's clock). */
type Samples = { t: number; n: number }[];

interface Reading {
  samples: Samples;
  /** CPU time per record (µs) of the reading process, from SKIP_SHARE of the records to the last. */
  cpuUsPerRecord: number;
}

/**
 * Both readers are measured from the moment both have read this share of the records: the steady rate, with the
 * start-up (group join, first fetches, the JIT compiling the code) outside the window for both alike.
 */
const SKIP_SHARE = 0.2;

/** When `samples` reached `n` records (interpolated), or undefined. */
function timeAt(samples: Samples, n: number): number | undefined {
  const i = samples.findIndex((s) => s.n >= n);
  if (i < 0) return undefined;
  if (i === 0) return samples[0]!.t;
  const [a, b] = [samples[i - 1]!, samples[i]!];
  return a.t + ((b.t - a.t) * (n - a.n)) / Math.max(1, b.n - a.n);
}

/** Records read by time `t` (interpolated between samples). */
function countAt(samples: Samples, t: number): number {
  const i = samples.findIndex((s) => s.t >= t);
  if (i < 0) return samples.at(-1)!.n;
  if (i === 0) return samples[0]!.n;
  const [a, b] = [samples[i - 1]!, samples[i]!];
  return a.n + ((b.n - a.n) * (t - a.t)) / Math.max(1e-9, b.t - a.t);
}

/**
 * A bare kafkajs consumer reading the topics from the start: once (`until` absent: the untimed warm-up), or around
 * and around, each partition back to its start when read to its end, until `until` resolves.
 */
async function bareConsumer(
  kafka: Kafka,
  topics: string[],
  total: number,
  finished?: Promise<unknown>,
): Promise<Reading> {
  const consumer = kafka.consumer({
    groupId: `bench-bare-${randomBytes(4).toString("hex")}`,
    maxWaitTimeInMs: FETCH.maxWaitTimeInMs,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
  });
  const admin = kafka.admin();
  await admin.connect();
  const starts = new Map<string, string>();
  for (const topic of topics) {
    for (const o of await admin.fetchTopicOffsets(topic)) starts.set(`${topic}/${o.partition}`, o.low);
  }
  await admin.disconnect();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const samples: Samples = [];
  let seen = 0;
  let atFirst = 0;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let done = false;
  void finished?.then(() => (done = true));
  await consumer.run({
    partitionsConsumedConcurrently: FETCH.partitionsConsumedConcurrently,
    eachBatch: async ({ batch }) => {
      // The same work per record the pipeline cannot skip: parse the JSON value.
      for (const m of batch.messages) if (m.value) JSON.parse(m.value.toString());
      seen += batch.messages.length;
      samples.push({ t: performance.now(), n: seen });
      if (cpuAtFirst === undefined && seen >= total * SKIP_SHARE) {
        cpuAtFirst = process.cpuUsage();
        atFirst = seen;
      }
      if (finished && !done && batch.offsetLag() === "0") {
        consumer.seek({
          topic: batch.topic,
          partition: batch.partition,
          offset: starts.get(`${batch.topic}/${batch.partition}`)!,
        });
      }
    },
  });
  await (finished ?? until(() => seen >= total, "the bare consumer"));
  const cpu = process.cpuUsage(cpuAtFirst);
  await consumer.disconnect();
  // This process's CPU includes the benchmark's own polling of detect: a little high.
  return { samples, cpuUsPerRecord: (cpu.user + cpu.system) / Math.max(1, seen - atFirst) };
}

/** Bytes of each key's newest value in a topic, read to its end. */
async function newestValues(kafka: Kafka, topic: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  await readToEnd(
    kafka,
    topic,
    (message) => {
      const key = message.key!.toString();
      if (message.value === null) sizes.delete(key);
      else sizes.set(key, message.key!.length + message.value.length);
    },
    { groupPrefix: "bench-read", timeoutMs: 300_000 },
  );
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
    let fleet = planScenarioFleet({ trucks: TRUCKS, startTimeMs, prefix: `b${suffix}` });
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
    // Only the live-alert trucks are needed from here on. The whole plan (every record of every truck as objects,
    // hundreds of MB at 10,000 trucks) held in this process, where the bare consumer runs, made its garbage
    // collection dearer and the reference slower (6.6-7.9 µs of CPU per record against 3.8-4.9 at 3,000 trucks).
    const live = fleet.filter((t) => t.scenario === "idle").slice(0, LIVE_ALERTS);
    fleet = [];
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
      // Side by side: the bare consumer starts once detect is reading, and both are measured over the same
      // stretch of time, so whatever else the machine does meets both alike.
      const samples: Samples = [];
      let cpuAtFirst: number | undefined;
      let atFirst = 0;
      let cpuUsPerRecord = 0;
      const polling = (async () => {
        for (;;) {
          const n = await keptRecords(port);
          samples.push({ t: performance.now(), n });
          if (cpuAtFirst === undefined && n >= total * SKIP_SHARE) {
            cpuAtFirst = await cpuSeconds(running.pid!);
            atFirst = n;
          }
          if (n >= total) {
            cpuUsPerRecord = (((await cpuSeconds(running.pid!)) - cpuAtFirst!) * 1e6) / (total - atFirst);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      await until(() => samples.some((x) => x.n > 0), "detect's first record");
      // The bare consumer reads around and around until detect has read everything (its samples go on past it).
      const [bare] = await Promise.all([
        bareConsumer(kafka, [topics.telemetry, topics.events], total, polling),
        polling,
      ]);
      const from = Math.max(timeAt(samples, total * SKIP_SHARE)!, timeAt(bare.samples, total * SKIP_SHARE)!);
      const to = samples.at(-1)!.t;
      const rate = (of: Samples) => (countAt(of, to) - countAt(of, from)) / ((to - from) / 1000);
      const stop = async () => {
        running.kill("SIGTERM");
        await exited;
        child = undefined;
      };
      return {
        detect: { recordsPerSec: rate(samples), cpuUsPerRecord },
        bare: { recordsPerSec: rate(bare.samples), cpuUsPerRecord: bare.cpuUsPerRecord },
        windowMs: to - from,
        topics: own,
        stop,
      };
    }

    // A first read, untimed: the broker's page cache and this process's JIT are warm for every round alike.
    await bareConsumer(kafka, [topics.telemetry, topics.events], total);
    // Every round's detect but the last's is stopped and its topics deleted.
    const rounds: { bare: number; detect: number; ratio: number }[] = [];
    let last: Awaited<ReturnType<typeof detectRound>> | undefined;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const loadBefore = load();
      last = await detectRound(round);
      const { bare, detect } = last;
      const ratio = detect.recordsPerSec / bare.recordsPerSec;
      rounds.push({ bare: bare.recordsPerSec, detect: detect.recordsPerSec, ratio });
      process.stdout.write(
        `round ${round} (side by side for ${(last.windowMs / 1000).toFixed(1)} s): bare kafkajs consumer ` +
          `${Math.round(bare.recordsPerSec)} records/s (${bare.cpuUsPerRecord.toFixed(1)} µs CPU each), fleetsync ` +
          `detect ${Math.round(detect.recordsPerSec)} records/s through five detectors ` +
          `(${detect.cpuUsPerRecord.toFixed(1)} µs CPU each): ${ratio.toFixed(2)}x (load average ${loadBefore} -> ` +
          `${load()})\n`,
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
