/**
 * The live map under a fleet's load: `npm run bench:map`. Real parts: Kafka (KAFKA_BROKERS or the local broker),
 * `fleetsync map` as its own process, Debian's Chromium (playwright-core) with the page. Phases:
 * 1. live: BENCH_TRUCKS (10,000) trucks at 1 record/s for BENCH_SECONDS (60): a WebSocket client measures each
 *    truck update from the Kafka record's timestamp to its arrival (coalescing included; p99), the page measures
 *    its frame rate and longest frame, and the map's peak RSS is read from /proc;
 * 2. catch-up: a new map group reads everything phase 1 wrote, and a bare kafkajs consumer (eachBatch, nothing
 *    else) reads the same topic with the same fetch settings: records/s of each, in the same run (the ratio is what
 *    compares across machines), BENCH_MAP_ROUNDS times alternating (default 3; the round with the median ratio is
 *    reported), each round with the load average beside it, and the CPU time each spent per record (on a busy
 *    machine records/s swing with other processes; CPU per record much less);
 * 3. the same page with 100 trucks, for its frame rate beside phase 1's.
 * The map runs as its systemd unit runs it (deploy/pipelines/fleetsync-map.service: NODE_OPTIONS with a larger young
 * generation), and so does this process, where the bare consumer runs: the reference gets the same settings.
 * Ends with one JSON line (the map.* keys of `npm run bench`).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel, type Producer } from "kafkajs";
import type { Browser } from "playwright-core";
import { WebSocket } from "ws";
import type { TelemetryRecord } from "../../protocol/records.ts";
import { type RunTopics, runTopics, startKafka } from "../e2e/kafka.ts";
import { REPO } from "../e2e/bridge.ts";
import { type MapProcess, spawnMap, writeMapConfig } from "../e2e/map.ts";
import { launchBrowser } from "../support/browser.ts";
import { cpuSeconds } from "./cpu.ts";
import { readUnit } from "./unit.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
/** Catch-up rounds (map, then bare): more of them on a busy machine, whose load swings within a run. */
const ROUNDS = Number(process.env.BENCH_MAP_ROUNDS ?? 3);
const TRUCKS = Number(process.env.BENCH_TRUCKS ?? 10_000);
const PARTITIONS = 12;
const TICK_MS = 100;
const FPS_WINDOW_MS = 10_000;
const STREAM = "00000000000b3e7c";

const log = (text: string) => process.stdout.write(`${text}\n`);
/** The 1, 5 and 15 minute load averages, printed beside every figure: a figure means little without them. */
const loadAverage = () =>
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
/** The map's default fetch size per partition (pipelines/runtime/config.ts); the bare consumer fetches the same. */
const MAX_BYTES_PER_PARTITION = 1_048_576;
/** The runner's fetch wait (pipelines/runtime/runner.ts), for the bare consumer too. */
const MAX_WAIT_MS = 100;

function record(truck: number, seq: number): TelemetryRecord {
  // Trucks spread over Europe, each driving a small circle, so positions and headings change every record.
  const lat = 40 + (truck % 100) * 0.2 + 0.01 * Math.sin(seq / 20);
  const lon = -5 + Math.floor(truck / 100) * 0.3 + 0.01 * Math.cos(seq / 20);
  return {
    truckId: `BENCH-${String(truck).padStart(5, "0")}`,
    stream: STREAM,
    seq,
    ts: new Date().toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: Math.round(lat * 1e7) / 1e7,
      lon: Math.round(lon * 1e7) / 1e7,
      altM: 100,
      speedKmh: 60,
      courseDeg: Math.round(((seq * 3) % 360) * 10) / 10,
      sats: 10,
      hdop: 0.9,
    },
    engine: { engineSpeedRpm: 1400, fuelLevelPct: 50, coolantTempC: 88 },
  };
}

/** Sends `trucks` records a second (one per truck) in 100 ms slices until `stop()`; returns how many were sent. */
function fleetLoad(producer: Producer, topic: string, trucks: number) {
  let seq = 0;
  let sent = 0;
  let running = true;
  const perTick = Math.max(1, Math.round((trucks * TICK_MS) / 1000));
  const done = (async () => {
    let next = Date.now();
    let cursor = 0;
    while (running) {
      const messages = [];
      for (let i = 0; i < perTick; i += 1) {
        const truck = cursor;
        cursor = (cursor + 1) % trucks;
        if (cursor === 0) seq += 1;
        const r = record(truck, seq);
        messages.push({ key: r.truckId, value: JSON.stringify(r) });
      }
      await producer.send({ topic, acks: -1, messages });
      sent += messages.length;
      next += TICK_MS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  })();
  // A failed send ends the load; stop() reports it. Without this an error elsewhere in the run (whose cleanup
  // disconnects the producer) surfaced as this loop's unhandled "The producer is disconnected" and hid the cause.
  done.catch(() => (running = false));
  return {
    sent: () => sent,
    async stop() {
      running = false;
      await done;
      return sent;
    },
  };
}

/** Collects, for every truck update a browser would get, the time from the Kafka record to its arrival. */
function latencyProbe(pageUrl: string) {
  const samples: number[] = [];
  let measuring = false;
  const socket = new WebSocket(new URL("ws", pageUrl.replace(/^http/, "ws")));
  socket.on("message", (data) => {
    const now = Date.now();
    const message = JSON.parse(String(data)) as { type: string; trucks?: { kafkaTs: number | null }[] };
    if (!measuring || message.type !== "delta") return;
    for (const t of message.trucks ?? []) if (t.kafkaTs !== null) samples.push(now - t.kafkaTs);
  });
  return {
    start: () => void (measuring = true),
    stop() {
      measuring = false;
      socket.close();
      return samples;
    },
  };
}

async function pageFrames(browser: Browser, url: string, expectTrucks: number) {
  // bypassCSP: the page's own policy refuses eval, and Playwright's polling of a string predicate evaluates it in the
  // page; without this the wait failed whenever the trucks were not all there at the first check.
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  await page.goto(url);
  await page.waitForFunction(`window.fleetsyncMap?.trucks.size >= ${expectTrucks}`, undefined, { timeout: 120_000 });
  // Every animation frame's interval over the window: fps, and the longest frame (a stall the operator sees).
  const intervals = await page.evaluate<number[]>(`new Promise((resolve) => {
    const out = [];
    let last = performance.now();
    const end = last + ${FPS_WINDOW_MS};
    const frame = (t) => { out.push(t - last); last = t; if (t < end) requestAnimationFrame(frame); else resolve(out); };
    requestAnimationFrame(frame);
  })`);
  await page.close();
  const total = intervals.reduce((a, b) => a + b, 0);
  return { fps: (intervals.length * 1000) / total, longestMs: Math.max(...intervals), load: loadAverage() };
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** Records the map has taken from `topic` so far: `kept` only, or every result (kept, filtered, invalid). */
async function recordCount(map: MapProcess, topic: string, which: "kept" | "read"): Promise<number> {
  const text = await (await fetch(new URL("metrics", map.url))).text();
  let sum = 0;
  for (const m of text.matchAll(/^fleetsync_pipeline_records_total\{([^}]*)\} (\d+)/gm)) {
    if (!m[1]!.includes(`topic="${topic}"`)) continue;
    if (which === "kept" && !m[1]!.includes('result="kept"')) continue;
    sum += Number(m[2]);
  }
  return sum;
}

/** Records in the topic (what each catch-up reads): a producer's retry can write one twice, and both read it. */
async function topicRecords(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function createTopics(kafka: Kafka, topics: RunTopics): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: topics.telemetry, numPartitions: PARTITIONS },
      { topic: topics.events, numPartitions: PARTITIONS },
      {
        topic: topics.status,
        numPartitions: PARTITIONS,
        configEntries: [{ name: "cleanup.policy", value: "compact" }],
      },
    ],
  });
  await admin.disconnect();
}

async function startMap(
  dir: string,
  brokers: string[],
  topics: RunTopics,
  name: string,
  groupId = `bench-map-${name}-${randomBytes(3).toString("hex")}`,
): Promise<MapProcess> {
  const file = await writeMapConfig(
    dir,
    {
      groupId,
      kafka: { brokers },
      topics: { telemetry: topics.telemetry, events: topics.events, status: topics.status, latest: topics.latest },
      historyMs: 3_600_000,
      http: { host: "127.0.0.1", port: 0 },
    },
    `${name}.json`,
  );
  return spawnMap(file);
}

async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

interface CatchUp {
  recordsPerSec: number;
  /** CPU time per record (µs): unlike records/s, hardly moved by other processes on a busy machine. */
  cpuUsPerRecord: number;
}

/**
 * A new map group reads everything. Measured between its metrics samples (every 100 ms) taken while it was reading:
 * the records it read between the first and the last of them, over their time apart, and its CPU time meanwhile. Not
 * from "the first sample with records" to "the first with all": each end would then be off by up to a sampling
 * interval, about 8% of a 2.5 s catch-up either way (two rounds of one code differed by that much).
 */
async function mapCatchUp(
  dir: string,
  brokers: string[],
  topics: RunTopics,
  total: number,
  maps: MapProcess[],
): Promise<CatchUp> {
  const map = await startMap(dir, brokers, topics, `catchup-${maps.length}`);
  maps.push(map);
  const pid = map.child.pid!;
  const samples: { at: number; read: number; cpu: number }[] = [];
  await waitUntil(
    async () => {
      const read = await recordCount(map, topics.telemetry, "read");
      if (read > 0 && read < total) samples.push({ at: Date.now(), read, cpu: await cpuSeconds(pid) });
      return read >= total;
    },
    600_000,
    "the map to read everything",
    100,
  );
  await map.stop();
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.at === first.at) {
    throw new Error(`the map's catch-up was too short to measure (${samples.length} samples): raise BENCH_SECONDS`);
  }
  const read = last.read - first.read;
  return {
    recordsPerSec: read / ((last.at - first.at) / 1000),
    cpuUsPerRecord: ((last.cpu - first.cpu) * 1e6) / read,
  };
}

/** The reference: a kafkajs consumer that only counts, new group, same topic; first batch to last. */
async function bareCatchUp(kafka: Kafka, topic: string, total: number): Promise<CatchUp> {
  // The map's fetch settings (the runner's); kafkajs' defaults otherwise (maxBytes 10 MiB per fetch, as the map's).
  const bare = kafka.consumer({
    groupId: `bench-bare-${randomBytes(3).toString("hex")}`,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxWaitTimeInMs: MAX_WAIT_MS,
  });
  await bare.connect();
  await bare.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  let cpuAtFirst = process.cpuUsage();
  let cpuAtLast = cpuAtFirst;
  await bare.run({
    eachBatch: async ({ batch }) => {
      if (first === 0) {
        first = Date.now();
        cpuAtFirst = process.cpuUsage();
      }
      count += batch.messages.length;
      last = Date.now();
      cpuAtLast = process.cpuUsage();
    },
  });
  await waitUntil(() => count >= total, 600_000, "the bare consumer to read everything");
  await bare.disconnect();
  const cpu = process.cpuUsage(cpuAtFirst);
  const cpuLast = process.cpuUsage(cpuAtLast);
  // This process's CPU from the first batch to the last (the benchmark's own idle work included: a little high).
  const cpuUs = cpu.user + cpu.system - (cpuLast.user + cpuLast.system);
  return { recordsPerSec: total / (Math.max(1, last - first) / 1000), cpuUsPerRecord: cpuUs / total };
}

async function main(): Promise<void> {
  const kafkaRun = await startKafka();
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-map-"));
  const kafka = new Kafka({ brokers: kafkaRun.brokers, clientId: "bench-map", logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const maps: MapProcess[] = [];
  const made: RunTopics[] = [];
  let browser: Browser | undefined;
  try {
    await producer.connect();
    const big = runTopics("bench-map");
    made.push(big);
    await createTopics(kafka, big);
    const live = await startMap(dir, kafkaRun.brokers, big, "live");
    maps.push(live);
    browser = await launchBrowser();

    log(`phase 1: ${TRUCKS} trucks at 1 record/s for ${SECONDS} s`);
    const load = fleetLoad(producer, big.telemetry, TRUCKS);
    const probe = latencyProbe(live.url);
    await waitUntil(
      async () => (await recordCount(live, big.telemetry, "kept")) >= TRUCKS,
      60_000,
      "every truck on the map",
    );
    probe.start();
    const began = Date.now();
    const frames10k = await pageFrames(browser, live.url, TRUCKS);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, SECONDS * 1000 - (Date.now() - began))));
    const samples = probe.stop().sort((a, b) => a - b);
    const total = await load.stop();
    const rssMb = await peakRssMb(live.child.pid!);
    const p = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
    log(
      `  page with ${TRUCKS} trucks: ${frames10k.fps.toFixed(1)} fps, longest frame ` +
        `${frames10k.longestMs.toFixed(0)} ms (${frames10k.load})`,
    );
    log(
      `  Kafka record -> WebSocket client: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms over ${samples.length} truck updates ` +
        `(${loadAverage()})`,
    );
    log(`  map service peak RSS ${rssMb.toFixed(1)} MB; ${total} records produced`);
    await live.stop();
    const inTopic = await topicRecords(kafka, big.telemetry);

    log(
      `phase 2: catch-up over the ${inTopic} records in the topic, the map vs a bare kafkajs consumer, alternating, ` +
        `${ROUNDS} rounds, the median round reported`,
    );
    const rounds: { map: CatchUp; bare: CatchUp; ratio: number; load1m: number }[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const before = loadAverage();
      const load1m = loadavg()[0]!;
      const m = await mapCatchUp(dir, kafkaRun.brokers, big, inTopic, maps);
      const k = await bareCatchUp(kafka, big.telemetry, inTopic);
      const ratio = m.recordsPerSec / k.recordsPerSec;
      rounds.push({ map: m, bare: k, ratio, load1m });
      // The round's own ratio beside the rates: the two ran seconds apart, under about the same load.
      log(
        `  round ${round}: map ${m.recordsPerSec.toFixed(0)} records/s (${m.cpuUsPerRecord.toFixed(1)} µs CPU each), ` +
          `bare kafkajs ${k.recordsPerSec.toFixed(0)} records/s (${k.cpuUsPerRecord.toFixed(1)} µs CPU each): ` +
          `${ratio.toFixed(2)}x (${before}; after: ${loadAverage()})`,
      );
    }
    // The round with the median ratio: one disturbed round (another process's burst) moves it least.
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;

    log("phase 3: the page with 100 trucks");
    const small = runTopics("bench-map-100");
    made.push(small);
    await createTopics(kafka, small);
    const smallMap = await startMap(dir, kafkaRun.brokers, small, "small");
    maps.push(smallMap);
    const smallLoad = fleetLoad(producer, small.telemetry, 100);
    const frames100 = await pageFrames(browser, smallMap.url, 100);
    await smallLoad.stop();
    log(
      `  page with 100 trucks: ${frames100.fps.toFixed(1)} fps, longest frame ${frames100.longestMs.toFixed(0)} ms ` +
        `(${frames100.load})`,
    );

    const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
    log(
      JSON.stringify({
        "map.recordsPerSec": Math.round(median.map.recordsPerSec),
        "map.consumerRecordsPerSec": Math.round(median.bare.recordsPerSec),
        "map.cpuUsPerRecord": round(median.map.cpuUsPerRecord, 2),
        "map.consumerCpuUsPerRecord": round(median.bare.cpuUsPerRecord, 2),
        "map.catchUpRatios": rounds.map((r) => round(r.ratio, 2)),
        "map.catchUpLoad1m": round(median.load1m, 2),
        "map.latencyMsP99": p(0.99),
        "map.latencyMsP50": p(0.5),
        "map.fps10k": round(frames10k.fps),
        "map.longestFrameMs10k": Math.round(frames10k.longestMs),
        "map.fps100": round(frames100.fps),
        "map.longestFrameMs100": Math.round(frames100.longestMs),
        "map.rssMb": round(rssMb),
        "map.trucks": TRUCKS,
        "map.seconds": SECONDS,
      }),
    );
  } finally {
    await browser?.close();
    await Promise.allSettled(maps.map((m) => m.stop()));
    await producer.disconnect().catch(() => undefined);
    // On a shared Kafka, the run's topics (hundreds of thousands of records) go with it.
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: made.flatMap((t) => Object.values(t)) }).catch(() => undefined);
    await admin.disconnect();
    await kafkaRun.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const UNIT = readUnit(REPO, "deploy/pipelines/fleetsync-map.service", "map");
if (UNIT.nodeArgs.length > 0)
  throw new Error("bench:map passes the map unit's Environment= on, not node flags in ExecStart");
const unitSettings = Object.entries(UNIT.env)
  .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
  .join(" ");
if (Object.entries(UNIT.env).every(([k, v]) => process.env[k] === v)) {
  log(`the map and the bare consumer with the map unit's settings: ${unitSettings}`);
  await main();
} else {
  // Started again with the unit's environment (NODE_OPTIONS reaches V8 only at start); the map inherits it.
  const again = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, ...UNIT.env },
  });
  process.exitCode = again.status ?? 1;
}
