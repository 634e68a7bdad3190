/**
 * History benchmark (issue 17): records/s from Kafka into PostgreSQL through `fleetsync history` (the real command,
 * a child process), beside a plain COPY of the same rows into the same table shape in the same run; the time to
 * replay the topic from the earliest offset (scaled to one million records when BENCH_HISTORY_N is smaller); and
 * the service's RSS while the database is down and records keep arriving.
 * Targets: >= 0.5x the plain COPY and >= 20,000 records/s on the 2-core machine.
 *
 *   npm run bench:history            (BENCH_HISTORY_N records, default 1,000,000; KAFKA_BROKERS / DATABASE_URL
 *                                     are used when set, else a local Kafka and PostgreSQL start for the run)
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { type LocalPostgres, startLocalPostgres } from "../../deploy/postgres/local-postgres.ts";
import { migrate } from "../../pipelines/history/migrations.ts";
import { TELEMETRY_COLUMNS, telemetryLine } from "../../pipelines/history/rows.ts";
import { roundTo, type TelemetryRecord } from "../../protocol/records.ts";
import { REPO } from "../e2e/bridge.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { httpGet } from "./http.ts";
import { startKafka } from "../e2e/kafka.ts";

const N = Number(process.env.BENCH_HISTORY_N ?? 1_000_000);
const TRUCKS = 200;
const PARTITIONS = 4;
const execRun = promisify(execFile);

function record(truck: number, seq: number): TelemetryRecord {
  const t = Date.UTC(2026, 10, 1) + seq * 1000;
  return {
    truckId: `B${String(truck).padStart(4, "0")}`,
    stream: "00000000000000be",
    seq,
    ts: new Date(t).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: roundTo(48 + ((seq * 7) % 10_000) / 1e6, 7),
      lon: roundTo(11 + ((seq * 3) % 10_000) / 1e6, 7),
      altM: 512.3,
      speedKmh: roundTo((seq % 900) / 10, 1),
      courseDeg: roundTo((seq % 3600) / 10, 1),
      sats: 9,
      hdop: 0.9,
    },
    engine: {
      engineSpeedRpm: 1100 + (seq % 700),
      torquePct: 35,
      wheelSpeedKmh: roundTo((seq % 900) / 10, 1),
      coolantTempC: 86,
      fuelRateLph: 24.55,
      fuelLevelPct: 61.5,
      engineHours: roundTo(12_000 + seq / 3600, 2),
      totalDistanceKm: roundTo(250_000 + seq * 0.02, 3),
      totalFuelL: roundTo(90_000 + seq * 0.01, 1),
    },
  };
}

const perTruck = Math.ceil(N / TRUCKS);
/** N records over TRUCKS trucks, seqs from `base` on (a second round continues each truck's sequence). */
function* records(base = 0): Generator<TelemetryRecord> {
  let made = 0;
  for (let seq = 0; seq < perTruck; seq++) {
    for (let truck = 0; truck < TRUCKS && made < N; truck++, made++) yield record(truck, base + seq);
  }
}

async function produceAll(kafka: Kafka, topic: string, base = 0): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const receivedAt = new Date().toISOString();
  let batch: { key: string; value: string; headers: Record<string, string> }[] = [];
  // One send at a time: concurrent sends may land out of order, and the in-order filter would (rightly) drop the
  // late ones as duplicates. The bridge keeps each truck's order the same way.
  const flush = async () => {
    await producer.send({ topic, acks: -1, messages: batch });
    batch = [];
  };
  for (const r of records(base)) {
    batch.push({ key: r.truckId, value: JSON.stringify(r), headers: { "fleet-received-at": receivedAt } });
    if (batch.length === 5_000) await flush();
  }
  if (batch.length > 0) await flush();
  await producer.disconnect();
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The reference: the same rows, COPY'd straight into the same table shape in chunks of the pipeline's size. */
async function plainCopy(url: string): Promise<number> {
  return withClient(url, async (c) => {
    await migrate(c);
    const columns = TELEMETRY_COLUMNS.join(", ");
    // Only the COPY statements are timed: making the text is the same work in both paths, not the database's.
    let copyNs = 0n;
    let text = "";
    let rows = 0;
    let offset = 0;
    const flush = async () => {
      const began = process.hrtime.bigint();
      await pipeline(Readable.from([text]), c.query(copyFrom(`COPY telemetry (${columns}) FROM STDIN`)));
      copyNs += process.hrtime.bigint() - began;
      text = "";
      rows = 0;
    };
    for (const r of records()) {
      text += telemetryLine({ record: r, offset: String(offset++), kafkaTimestamp: Date.now() }, 0);
      if (++rows === 2_500) await flush();
    }
    if (rows > 0) await flush();
    return N / (Number(copyNs) / 1e9);
  });
}

async function rowsMetric(port: number, result: string): Promise<number> {
  const line = (await httpGet(port, "/metrics"))
    .split("\n")
    .find((l) => l.startsWith("fleetsync_history_rows_total") && l.includes(`result="${result}"`));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function spawnHistory(configFile: string): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "history", "--config", configFile], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"ready":true')) resolve((JSON.parse(line) as { http: number }).http);
    });
    void exited.then(() => reject(new Error("fleetsync history exited during start-up")));
  });
  return {
    child,
    port,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls until `done()`; returns the seconds from `since`. */
async function until(done: () => Promise<boolean>, since: bigint, what: string, timeoutS = 1_800): Promise<number> {
  for (;;) {
    if (await done()) return Number(process.hrtime.bigint() - since) / 1e9;
    if (Number(process.hrtime.bigint() - since) / 1e9 > timeoutS) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-history-"));
  const kafkaRun = await startKafka();
  // The database outage needs a server this run may stop: its own, unless DATABASE_URL names one.
  let local: LocalPostgres | undefined;
  const serverUrl = process.env.DATABASE_URL ?? (local = await startLocalPostgres()).url;
  try {
    const kafka = new Kafka({ brokers: kafkaRun.brokers, clientId: "bench-history", logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const suffix = randomBytes(3).toString("hex");
    const topics = { telemetry: `bench.history.t.${suffix}`, events: `bench.history.e.${suffix}` };
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.telemetry, numPartitions: PARTITIONS },
        { topic: topics.events, numPartitions: PARTITIONS },
      ],
    });
    let t = process.hrtime.bigint();
    await produceAll(kafka, topics.telemetry);
    process.stdout.write(`produced ${N} records in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s\n`);

    const copyRowsPerSec = await plainCopy(await createDatabase(serverUrl, `bench_copy_${suffix}`));
    process.stdout.write(`plain COPY: ${Math.round(copyRowsPerSec)} rows/s\n`);

    const dbUrl = await createDatabase(serverUrl, `bench_history_${suffix}`);
    const configFile = join(dir, "history.json");
    await writeFile(
      configFile,
      JSON.stringify({
        groupId: `bench-history-${suffix}`,
        kafka: { brokers: kafkaRun.brokers },
        topics,
        database: { url: dbUrl, probeIntervalMs: 500, connections: Number(process.env.BENCH_HISTORY_CONNECTIONS ?? 2) },
        fetchBytes: Number(process.env.BENCH_HISTORY_FETCH_BYTES ?? 1_048_576),
        http: { port: 0 },
      }),
    );
    t = process.hrtime.bigint();
    let h = await spawnHistory(configFile);
    const port = h.port;
    // The rate counts from the first row written, so the process start and the group join are not in it.
    const startS = await until(async () => (await rowsMetric(port, "inserted")) > 0, t, "first row");
    const first = await rowsMetric(port, "inserted");
    const t1 = process.hrtime.bigint();
    const loadS = await until(async () => (await rowsMetric(port, "inserted")) >= N, t1, "first load");
    const recordsPerSec = (N - first) / loadS;
    process.stdout.write(
      `fleetsync history: ${N} records, ${Math.round(recordsPerSec)}/s after the first row (start-up ${startS.toFixed(1)} s)\n`,
    );
    await h.stop();

    await execRun(
      process.execPath,
      [...fleetsyncCommand(), "history", "replay", "--to", "earliest", "--config", configFile],
      {
        cwd: REPO,
      },
    );
    t = process.hrtime.bigint();
    h = await spawnHistory(configFile);
    const replayPort = h.port;
    const replayStartS = await until(async () => (await rowsMetric(replayPort, "existing")) > 0, t, "replay start");
    const replayFirst = await rowsMetric(replayPort, "existing");
    const t2 = process.hrtime.bigint();
    const replayS = await until(async () => (await rowsMetric(replayPort, "existing")) >= N, t2, "replay");
    // Start-up once, plus a million records at the measured rate (exact when BENCH_HISTORY_N is a million).
    const replayMillionSec = replayStartS + (replayS * 1_000_000) / (N - replayFirst);
    process.stdout.write(
      `replay from earliest: ${(replayStartS + replayS).toFixed(1)} s for ${N} (${replayMillionSec.toFixed(1)} s per 1M)\n`,
    );

    let rssMbDatabaseDown: number | null = null;
    if (local) {
      await local.stop();
      await produceAll(kafka, topics.telemetry, perTruck); // N more records arrive while the database is down
      // The service keeps retrying its batch in hand; give it 10 s of outage, then measure.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      rssMbDatabaseDown = await rssMb(h.child.pid!);
      process.stdout.write(`RSS with the database down: ${rssMbDatabaseDown.toFixed(1)} MB\n`);
      await local.start();
    }
    await h.stop();
    await admin.deleteTopics({ topics: [topics.telemetry, topics.events] }).catch(() => undefined);
    await admin.disconnect();
    process.stdout.write(
      `${JSON.stringify({
        "history.recordsPerSec": Math.round(recordsPerSec),
        "history.copyRowsPerSec": Math.round(copyRowsPerSec),
        "history.replayMillionSec": Number(replayMillionSec.toFixed(1)),
        "history.rssMbDatabaseDown": rssMbDatabaseDown === null ? null : Number(rssMbDatabaseDown.toFixed(1)),
      })}\n`,
    );
  } finally {
    await local?.stop();
    if (local) await rm(local.dataDir, { recursive: true, force: true });
    await kafkaRun.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
