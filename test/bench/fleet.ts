/**
 * Fleet-shaped load (issue 21), not a test: `npm run bench:fleet`. Many connected trucks each sending a little: N
 * trucks, one record every second each, evenly spread over the second, from several loopback source addresses
 * (`fleetsync sim load`'s load shape, sim/load/). Measured on one bridge process, and on plain Aedes QoS 1 (the same
 * load, no Kafka) in the same run:
 *   - fleet.trucksAtP99Under50ms: the largest N of the steps (BENCH_FLEET_STEPS) whose publish→PUBACK p99 over the
 *     measuring window stays ≤ 50 ms; reference.aedesFleetTrucksAtP99Under50ms the same for plain Aedes;
 *   - fleet.rssKbPerTruck: the bridge's RSS growth per connected, publishing truck at that N;
 *   - fleet.cpuUsPerRecord: the bridge process's CPU time (user + system) per record in the window;
 *   - bridge.eventLoopDelayMsP99: the bridge's event-loop delay p99 in that window (monitorEventLoopDelay);
 *   - fleet.stormDrainSec: BENCH_STORM_TRUCKS trucks all drop and reconnect at once, each with a 10-minute
 *     backlog (BENCH_STORM_BACKLOG_S): seconds until every backlog is acknowledged.
 * Every broker runs in a child process of its own, and so does the load generator, so the broker under test has its
 * event loop to itself, as in production. They still share this machine's cores with Kafka: the load average is
 * printed beside the figures. Kafka: KAFKA_BROKERS, or a local broker started for the run. Ends with one JSON line.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { Aedes } from "aedes";
import { hashSecret } from "../../bridge/auth/credentials.ts";
import { createBridge } from "../../bridge/bridge.ts";
import { parseBridgeConfig } from "../../bridge/config.ts";
import type { KafkaTopics } from "../../bridge/kafka-sink/index.ts";
import { type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";
import { createLoadRun, type LoadSummary } from "../../sim/load/load-run.ts";
import { benchTopics, deleteBenchTopics } from "./topics.ts";

/** BENCH_FLEET_STEPS="" runs no steps (only the storm, e.g. to compare two storms). */
const STEPS = (process.env.BENCH_FLEET_STEPS ?? "2000,5000,10000,20000,30000,50000")
  .split(",")
  .filter(Boolean)
  .map(Number);
const WINDOW_S = Number(process.env.BENCH_FLEET_SECONDS ?? 15);
const RAMP_PER_SEC = Number(process.env.BENCH_FLEET_RAMP ?? 2000);
const SOURCES = Number(process.env.BENCH_FLEET_SOURCES ?? 16);
const STORM_TRUCKS = Number(process.env.BENCH_STORM_TRUCKS ?? 10_000);
const STORM_BACKLOG_S = Number(process.env.BENCH_STORM_BACKLOG_S ?? 600);
/** BENCH_FLEET_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": node flags for the broker under test. */
const SERVE_NODE_ARGS = (process.env.BENCH_FLEET_NODE_ARGS ?? "").split(" ").filter(Boolean);
/** BENCH_FLEET_LOAD_NODE_ARGS: the same for the load generator (to profile what it costs beside the broker). */
const LOAD_NODE_ARGS = (process.env.BENCH_FLEET_LOAD_NODE_ARGS ?? "").split(" ").filter(Boolean);
/** BENCH_FLEET_AEDES=0 skips the plain-Aedes reference (for profiling or comparing the bridge's node flags). */
const WITH_AEDES = process.env.BENCH_FLEET_AEDES !== "0";
const P99_LIMIT_MS = 50;
/** A step whose trucks are not all connected by then has failed (connections refused or timing out). */
const CONNECT_DEADLINE_MS = 120_000;
const PASSWORD = "bench-password-0123456789";
const CHEAP = { N: 16, r: 1, p: 1 }; // benchmark only: the login cost is not what is measured here
const self = fileURLToPath(import.meta.url);
const log = (line: string) => process.stderr.write(`${line}\n`);
const load1 = () => loadavg()[0]!.toFixed(1);

type ServeJob = { kind: "bridge" | "aedes"; dir: string; brokers: string[]; topics: KafkaTopics };
type LoadJob = {
  url: string;
  /** Plain Aedes 1.x speaks MQTT 3.1.1 only (the bridge adds MQTT 5 itself): the reference's trucks use 3.1.1. */
  protocolVersion: 4 | 5;
  trucks: number;
  prefix: string;
  durationS: number;
  latencySamples: number;
  storm?: { atS: number; backlogS: number };
};
interface ServerStats {
  rssKb: number;
  cpuUs: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** Garbage collection since the last reset: the longest pause and the sum (where event-loop stalls come from). */
  gcMaxMs: number;
  gcTotalMs: number;
  gcCount: number;
  /** The longest pause's kind: "major" (mark-sweep-compact: the whole heap) or "minor" (scavenge: the young space). */
  gcMaxKind: string;
  /**
   * The bridge's own histograms (cumulative; a step takes the window's difference): publish -> PUBACK inside the
   * bridge (authorizePublish to the acknowledgement) and one Kafka sendBatch (acks=all), to tell where a truck's
   * p99 goes. Absent for plain Aedes.
   */
  ackHistogram?: Histogram;
  kafkaBatchHistogram?: Histogram;
  batchRecords?: { count: number; sum: number };
}
/** The load generator's own CPU time (user + system, µs) and records acknowledged so far. */
type GeneratorCpu = { cpuUs: number; recordsAcked: number };
/** Upper bounds (seconds) -> cumulative counts, as prom-client reports a histogram. */
type Histogram = { le: number; count: number }[];

const truckIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const sources = (n: number) => Array.from({ length: n }, (_, i) => `127.0.1.${i + 1}`);

// ---- child: the broker under test ----------------------------------------------------------------------------

async function serve(job: ServeJob): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = { maxMs: 0, totalMs: 0, count: 0, maxKind: "-" };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration > gc.maxMs) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
        gc.maxKind = kind === 1 ? "minor" : kind === 2 ? "major" : kind === 4 ? "incremental" : String(kind);
      }
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      gc.totalMs += entry.duration;
      gc.count += 1;
    }
  }).observe({ entryTypes: ["gc"] });
  let port: number;
  let histograms: () => Promise<Pick<ServerStats, "ackHistogram" | "kafkaBatchHistogram" | "batchRecords">> = () =>
    Promise.resolve({});
  if (job.kind === "bridge") {
    const file = join(job.dir, "credentials.json");
    const bridge = createBridge(
      parseBridgeConfig({
        listener: { tcp: { host: "127.0.0.1", port: 0 }, maxConnections: 100_000 },
        // The fleet's trucks come from a few addresses here; production has one per truck (or HAProxy's).
        auth: { credentialsFile: file, maxConnectionsPerSecondPerSource: 1_000_000 },
        kafka: { brokers: job.brokers, topics: job.topics, replicationFactor: 1, partitions: 12 },
      }),
    );
    await bridge.start();
    port = bridge.address("tcp")!.port;
    // BENCH_FLEET_TRACE=1: every 5 s the bridge's own view of logins (accepted, logged in, refused) and its loop.
    if (process.env.BENCH_FLEET_TRACE === "1") {
      const trace = monitorEventLoopDelay({ resolution: 5 });
      trace.enable();
      setInterval(() => {
        void bridge.metrics.registry.getMetricsAsJSON().then((metrics) => {
          const sum = (name: string) =>
            (metrics.find((m) => m.name === name)?.values ?? []).reduce((n, v) => n + Number(v.value), 0);
          log(
            `  bridge: accepted ${sum("fleetsync_bridge_connections_total")}, logged in now ` +
              `${sum("fleetsync_bridge_connections")}, refused ${sum("fleetsync_bridge_connections_refused_total")}, ` +
              `auth failures ${sum("fleetsync_bridge_auth_failures_total")}, pending records ` +
              `${sum("fleetsync_bridge_pending_records")}, waiting publishes ${sum("fleetsync_bridge_waiting_publishes")}, ` +
              `loop delay max ${(trace.max / 1e6).toFixed(0)} ms`,
          );
          trace.reset();
        });
      }, 5_000).unref();
    }
    histograms = async () => {
      const metrics = await bridge.metrics.registry.getMetricsAsJSON();
      const values = (name: string) =>
        (metrics.find((m) => m.name === name)?.values ?? []) as {
          metricName?: string;
          labels: { le?: number | string };
          value: number;
        }[];
      const buckets = (name: string): Histogram =>
        values(name)
          .filter((v) => v.metricName?.endsWith("_bucket"))
          .map((v) => ({
            le: v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le),
            count: v.value,
          }));
      const batch = values("fleetsync_bridge_kafka_batch_records");
      return {
        ackHistogram: buckets("fleetsync_bridge_publish_ack_seconds"),
        kafkaBatchHistogram: buckets("fleetsync_bridge_kafka_batch_seconds"),
        batchRecords: {
          count: batch.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0,
          sum: batch.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0,
        },
      };
    };
  } else {
    // Plain Aedes, QoS 1: PUBACK as soon as Aedes has the publish (no Kafka, no auth): the ceiling of the engine.
    const broker = new Aedes();
    await broker.listen();
    const server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    port = (server.address() as { port: number }).port;
  }
  process.on("message", (message: { cmd: string }) => {
    if (message.cmd === "exit") process.exit(0);
    // fleet-memory.ts: the heap after a full collection (run with --expose-gc), and a heap snapshot to compare.
    if (message.cmd === "memory") {
      const gc = (globalThis as { gc?: () => void }).gc;
      const settled = process.memoryUsage();
      gc?.();
      gc?.();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
      process.send!({ memory: { settled, collected: process.memoryUsage(), spaces } });
    }
    if (message.cmd === "snapshot") process.send!({ snapshot: writeHeapSnapshot((message as { path?: string }).path) });
    if (message.cmd === "reset") {
      loop.reset();
      Object.assign(gc, { maxMs: 0, totalMs: 0, count: 0, maxKind: "-" });
    }
    if (message.cmd !== "stats") return;
    const usage = process.cpuUsage();
    void histograms().then((bridgeOwn) => {
      const stats: ServerStats = {
        ...bridgeOwn,
        rssKb: Math.round(process.memoryUsage.rss() / 1024),
        cpuUs: usage.user + usage.system,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
        gcMaxMs: gc.maxMs,
        gcTotalMs: gc.totalMs,
        gcCount: gc.count,
        gcMaxKind: gc.maxKind,
      };
      process.send!({ stats });
    });
  });
  process.send!({ ready: port });
}

// ---- child: the load generator ---------------------------------------------------------------------------------

async function generate(job: LoadJob): Promise<void> {
  const run = createLoadRun({
    url: job.url,
    truckIds: truckIds(job.prefix, job.trucks),
    password: PASSWORD,
    protocolVersion: job.protocolVersion,
    ratePerTruck: 1,
    durationS: job.durationS,
    rampPerSec: RAMP_PER_SEC,
    sourceAddresses: sources(SOURCES),
    tickMs: 10,
    maxPendingRecords: 1_000,
    // The ring keeps the latest samples: sized to the measuring window, it holds that window only.
    latencySamples: job.latencySamples,
    ...(job.storm ? { storm: { ...job.storm, batchSize: 100 } } : {}),
  });
  await run.start();
  let ticks = 0;
  let announced = false;
  const report = setInterval(() => {
    const s = run.stats();
    // Every 10 s, and every 5 s once a storm began (the connected-over-time line shows how logins kept up).
    if (++ticks % (s.connected < s.trucks || (job.storm && s.elapsedMs > job.storm.atS * 1000) ? 5 : 10) === 0)
      log(`  load: ${Math.round(s.elapsedMs / 1000)}s connected ${s.connected}/${s.trucks} acked ${s.recordsAcked}`);
    // A storm run ends once its backlog is drained (the live records after it are not what is measured).
    if (s.stormDrainMs !== null) void run.stop();
    if (s.connected === s.trucks && !announced) {
      announced = true;
      process.send!({ connected: true });
    }
  }, 1_000);
  process.on("message", (message: { cmd: string }) => {
    if (message.cmd === "stop") void run.stop();
    // The generator shares the cores with what it measures: its own CPU is read over the same window.
    if (message.cmd === "cpu") {
      const usage = process.cpuUsage();
      process.send!({ cpu: { cpuUs: usage.user + usage.system, recordsAcked: run.stats().recordsAcked } });
    }
  });
  const summary = await run.done;
  clearInterval(report);
  const { streams: _streams, ...rest } = summary;
  // The IPC channel is the last handle this process holds (its "message" listener keeps it open): closed once the
  // summary is on its way, the child exits by itself, and the parent, which holds the child, can exit too.
  process.send!({ summary: rest }, () => process.disconnect());
}

// ---- main ------------------------------------------------------------------------------------------------------

function child<T>(args: string[], on: (message: T) => void, nodeArgs: string[] = []): ChildProcess {
  const c = fork(self, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [...process.execArgv, ...nodeArgs],
    // The bridge's image runs with two malloc arenas (deploy/bridge/Dockerfile): so do the children here, the bridge's
    // RSS per truck is the deployed one and plain Aedes is measured alike. MALLOC_ARENA_MAX in the environment wins.
    env: { MALLOC_ARENA_MAX: "2", ...process.env },
  });
  c.on("message", (m) => on(m as T));
  return c;
}

/** Ends a child (if it has not ended by itself) and waits for it: no step leaves a process behind, even on error. */
async function end(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((resolve) => c.once("exit", resolve));
  c.kill("SIGKILL");
  await exited;
}

async function startServer(job: ServeJob) {
  let pending: ((s: ServerStats) => void) | undefined;
  let ready!: (port: number) => void;
  const port = new Promise<number>((resolve) => (ready = resolve));
  const c = child<{ ready?: number; stats?: ServerStats }>(
    ["--serve", JSON.stringify(job)],
    (m) => {
      if (m.ready !== undefined) ready(m.ready);
      if (m.stats) pending?.(m.stats);
    },
    SERVE_NODE_ARGS,
  );
  const url = `mqtt://127.0.0.1:${await port}`;
  return {
    url,
    stats: () =>
      new Promise<ServerStats>((resolve) => {
        pending = resolve;
        c.send({ cmd: "stats" });
      }),
    reset: () => c.send({ cmd: "reset" }),
    async stop() {
      // Asked to exit first, so that a --cpu-prof profile gets written; killed if it does not within 10 s.
      if (c.exitCode === null && c.signalCode === null && c.connected) {
        const exited = new Promise((resolve) => c.once("exit", resolve));
        c.send({ cmd: "exit" });
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      }
      await end(c);
    },
  };
}

/**
 * The load generator in a child: `connected` resolves once every truck is connected (it can take a while for the
 * child to start on a busy machine), `stop()` ends the run, `summary` is its result.
 */
function runLoad(job: LoadJob) {
  let connected!: () => void;
  let cpuAnswer: ((cpu: GeneratorCpu) => void) | undefined;
  const allConnected = new Promise<void>((resolve) => (connected = resolve));
  let c!: ChildProcess;
  const summary = new Promise<Omit<LoadSummary, "streams">>((resolve, reject) => {
    c = child<{ summary?: Omit<LoadSummary, "streams">; connected?: boolean; cpu?: GeneratorCpu }>(
      ["--load", JSON.stringify(job)],
      (m) => {
        if (m.connected) connected();
        if (m.summary) resolve(m.summary);
        if (m.cpu) cpuAnswer?.(m.cpu);
      },
      LOAD_NODE_ARGS,
    );
    c.once("exit", (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  const cpu = () =>
    new Promise<GeneratorCpu>((resolve) => {
      cpuAnswer = resolve;
      c.send({ cmd: "cpu" });
    });
  let summarized = false;
  void summary.then(() => (summarized = true)).catch(() => undefined);
  /** A child that sent its summary exits by itself (and writes a --cpu-prof profile): given 5 s before the kill. */
  const settle = async () => {
    if (summarized && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((resolve) => c.once("exit", resolve));
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    }
    await end(c);
  };
  return { connected: allConnected, summary, cpu, stop: () => c.send({ cmd: "stop" }), end: settle };
}

interface Step {
  trucks: number;
  p99Ms: number | null;
  complete: boolean;
  rssKbPerTruck: number;
  cpuUsPerRecord: number;
  /** The load generator's CPU per acknowledged record in the same window (it shares the cores). */
  generatorCpuUsPerRecord: number;
  loopP99Ms: number;
  loopMaxMs: number;
  gcMaxMs: number;
  gcTotalMs: number;
  /**
   * The event-loop delay p99 / max of this (idle, waiting) process over the same window: what the machine's
   * scheduler alone does to a Node process. Stalls of the broker at this size are the machine's, not its own.
   */
  idleLoopP99Ms: number;
  idleLoopMaxMs: number;
  /** The bridge's share (bucket bounds of its histograms over the window): PUBACK inside the bridge, a Kafka batch. */
  bridgeAckP99Ms: number | null;
  kafkaBatchP99Ms: number | null;
  recordsPerBatch: number | null;
  load: string;
}

/** The upper bound (ms) of the bucket that holds the window's 99th percentile: prom-client's histograms are coarse. */
function windowP99Ms(before: Histogram | undefined, after: Histogram | undefined): number | null {
  if (!before || !after) return null;
  const counts = after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
  const total = counts.at(-1)?.count ?? 0;
  if (total === 0) return null;
  return (counts.find((b) => b.count >= total * 0.99)?.le ?? Number.POSITIVE_INFINITY) * 1000;
}

/** One step: N trucks ramp up, then WINDOW_S seconds measured. A fresh broker per step (clean RSS baseline). */
async function step(kind: ServeJob["kind"], job: Omit<ServeJob, "kind">, trucks: number): Promise<Step> {
  const server = await startServer({ ...job, kind });
  let loading: ReturnType<typeof runLoad> | undefined;
  try {
    const base = await server.stats();
    loading = runLoad({
      url: server.url,
      protocolVersion: kind === "aedes" ? 4 : 5,
      trucks,
      prefix: "fleet",
      durationS: 3600,
      latencySamples: Math.max(100, trucks * WINDOW_S),
    });
    // The window starts once every truck is connected and the ramp has settled (a fixed 3 s), and lasts WINDOW_S.
    const connected = await Promise.race([
      loading.connected.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), CONNECT_DEADLINE_MS).unref()),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    server.reset();
    const idle = monitorEventLoopDelay({ resolution: 5 });
    idle.enable();
    const before = await server.stats();
    const genBefore = await loading.cpu();
    const beganAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
    idle.disable();
    // Read before the trucks disconnect: closing N connections is not part of the steady load measured.
    const after = await server.stats();
    const genAfter = await loading.cpu();
    loading.stop();
    const summary = await loading.summary;
    // Every truck must have been connected: a step whose trucks could not all connect measured fewer.
    const seconds = (Date.now() - beganAt) / 1000;
    const records = Math.max(1, trucks * Math.min(seconds, WINDOW_S));
    const result: Step = {
      trucks,
      p99Ms: summary.latencyMsP99,
      complete: connected,
      rssKbPerTruck: (before.rssKb - base.rssKb) / trucks,
      cpuUsPerRecord: (after.cpuUs - before.cpuUs) / records,
      generatorCpuUsPerRecord:
        (genAfter.cpuUs - genBefore.cpuUs) / Math.max(1, genAfter.recordsAcked - genBefore.recordsAcked),
      loopP99Ms: after.loopP99Ms,
      loopMaxMs: after.loopMaxMs,
      gcMaxMs: after.gcMaxMs,
      gcTotalMs: after.gcTotalMs,
      idleLoopP99Ms: idle.percentile(99) / 1e6,
      idleLoopMaxMs: idle.max / 1e6,
      bridgeAckP99Ms: windowP99Ms(before.ackHistogram, after.ackHistogram),
      kafkaBatchP99Ms: windowP99Ms(before.kafkaBatchHistogram, after.kafkaBatchHistogram),
      recordsPerBatch:
        before.batchRecords && after.batchRecords
          ? (after.batchRecords.sum - before.batchRecords.sum) /
            Math.max(1, after.batchRecords.count - before.batchRecords.count)
          : null,
      load: load1(),
    };
    const bridgeShare =
      result.bridgeAckP99Ms === null
        ? ""
        : `; inside the bridge: PUBACK p99 ≤ ${result.bridgeAckP99Ms} ms, Kafka batch p99 ≤ ${result.kafkaBatchP99Ms} ms, ` +
          `${result.recordsPerBatch?.toFixed(1)} records per batch`;
    log(
      `${kind} ${trucks} trucks at 1/s: p99 ${result.p99Ms?.toFixed(1)} ms, RSS ${result.rssKbPerTruck.toFixed(1)} KB/truck, ` +
        `CPU ${result.cpuUsPerRecord.toFixed(1)} us/record (load generator ${result.generatorCpuUsPerRecord.toFixed(1)}), event loop p99 ${result.loopP99Ms.toFixed(1)} ms ` +
        `(max ${result.loopMaxMs.toFixed(0)}), GC longest ${result.gcMaxMs.toFixed(0)} ms (${after.gcMaxKind}), ` +
        `${((result.gcTotalMs / 1000 / seconds) * 100).toFixed(1)}% of the time in GC (${after.gcCount} pauses), ` +
        `connect errors ${summary.connectErrors}; an idle process meanwhile: event loop p99 ` +
        `${result.idleLoopP99Ms.toFixed(1)} ms (max ${result.idleLoopMaxMs.toFixed(0)})${bridgeShare}; ` +
        `load average ${result.load}`,
    );
    return result;
  } finally {
    await loading?.end();
    await server.stop();
  }
}

/**
 * Steps up until the p99 passes the limit (or trucks cannot all connect). `best`: the last passing step; `shown`:
 * the step whose memory, CPU and event-loop figures are reported (the best, or the first when none passed).
 */
async function largestUnderLimit(kind: ServeJob["kind"], job: Omit<ServeJob, "kind">) {
  let best: Step | undefined;
  let first: Step | undefined;
  for (const trucks of STEPS) {
    const s = await step(kind, job, trucks);
    first ??= s;
    if (s.p99Ms === null || s.p99Ms > P99_LIMIT_MS || !s.complete) break;
    best = s;
  }
  return { trucks: best?.trucks ?? 0, shown: best ?? first };
}

async function storm(job: Omit<ServeJob, "kind">): Promise<number | null> {
  const server = await startServer({ ...job, kind: "bridge" });
  let loading: ReturnType<typeof runLoad> | undefined;
  try {
    const rampS = STORM_TRUCKS / RAMP_PER_SEC;
    const atS = rampS + 5;
    loading = runLoad({
      url: server.url,
      protocolVersion: 5,
      trucks: STORM_TRUCKS,
      prefix: "storm",
      durationS: atS + 900,
      latencySamples: 1000,
      storm: { atS, backlogS: STORM_BACKLOG_S },
    });
    const summary = await loading.summary;
    const sec = summary.stormDrainMs === null ? null : summary.stormDrainMs / 1000;
    const connectedSec = summary.stormConnectedMs === null ? null : summary.stormConnectedMs / 1000;
    log(
      `reconnect storm: ${STORM_TRUCKS} trucks × ${STORM_BACKLOG_S} s backlog drained in ${sec?.toFixed(1)} s, ` +
        `every truck logged in again after ${connectedSec?.toFixed(1)} s (load average ${load1()})`,
    );
    return sec;
  } finally {
    await loading?.end();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const local: LocalKafka | undefined = process.env.KAFKA_BROKERS ? undefined : await startLocalKafka();
  const brokers = process.env.KAFKA_BROKERS?.split(",") ?? local!.brokers;
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-fleet-"));
  const topics = benchTopics("fleet");
  try {
    const hash = await hashSecret(PASSWORD, CHEAP);
    const all = [...truckIds("fleet", Math.max(0, ...STEPS)), ...truckIds("storm", STORM_TRUCKS)];
    await writeFile(
      join(dir, "credentials.json"),
      JSON.stringify({ version: 1, trucks: Object.fromEntries(all.map((t) => [t, hash])) }),
    );
    const job = { dir, brokers, topics };
    log(`load average at the start: ${load1()} (${SOURCES} source addresses, ${WINDOW_S} s windows)`);
    const aedes = WITH_AEDES ? await largestUnderLimit("aedes", job) : { trucks: null };
    const fleet = await largestUnderLimit("bridge", job);
    const bridge = fleet.shown;
    const stormSec = STORM_TRUCKS > 0 ? await storm(job) : null;
    const round = (n: number | undefined, d = 1) => (n === undefined ? null : Math.round(n * 10 ** d) / 10 ** d);
    process.stdout.write(
      `fleet: ${fleet.trucks} trucks at 1 record/s with p99 ≤ ${P99_LIMIT_MS} ms through one bridge ` +
        `(plain Aedes QoS 1: ${aedes.trucks}); memory, CPU and event loop at ${bridge?.trucks} trucks; ` +
        `load average ${load1()}\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        "fleet.trucksAtP99Under50ms": fleet.trucks,
        "reference.aedesFleetTrucksAtP99Under50ms": aedes.trucks,
        "fleet.rssKbPerTruck": round(bridge?.rssKbPerTruck),
        "fleet.cpuUsPerRecord": round(bridge?.cpuUsPerRecord),
        "fleet.stormDrainSec": stormSec === null ? null : Math.round(stormSec * 10) / 10,
        "bridge.eventLoopDelayMsP99": round(bridge?.loopP99Ms),
        "reference.idleEventLoopDelayMsP99": round(bridge?.idleLoopP99Ms),
        "fleet.p99MsAtShown": round(bridge?.p99Ms ?? undefined),
        "fleet.bridgeAckMsP99AtShown": bridge?.bridgeAckP99Ms ?? null,
        "fleet.kafkaBatchMsP99AtShown": bridge?.kafkaBatchP99Ms ?? null,
        "fleet.trucksShown": bridge?.trucks ?? null,
        "fleet.loadAverage": Number(load1()),
      })}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
    await deleteBenchTopics(brokers, Object.values(topics));
    await local?.stop();
  }
}

if (process.argv[2] === "--serve") await serve(JSON.parse(process.argv[3]!) as ServeJob);
else if (process.argv[2] === "--load") await generate(JSON.parse(process.argv[3]!) as LoadJob);
else await main();
