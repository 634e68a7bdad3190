/**
 * Faults of `fleetsync history` (the real command, as a child process) against real Kafka and real PostgreSQL.
 * Each ends with exactly one row per record produced and nothing missing:
 * - SIGKILL while a batch's transaction is open (a statement trigger holds it open, so the kill lands inside);
 * - PostgreSQL stopped for 30 s while records keep coming, then started again (/readyz says why meanwhile); the
 *   live map (`fleetsync map`, its own group on the same topics) keeps updating meanwhile: the pipelines are
 *   independent;
 * - two instances sharing the group, one SIGKILLed: the other takes its partitions over after the rebalance;
 * - `fleetsync history replay --to earliest`: everything is read again, nothing written twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import type { Kafka } from "kafkajs";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startLocalPostgres } from "../../deploy/postgres/local-postgres.ts";
import { migrate } from "../../pipelines/history/migrations.ts";
import { roundTo } from "../../protocol/records.ts";
import { REPO } from "../e2e/bridge.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { childLifecycle } from "../e2e/child.ts";
import { mapSnapshot, spawnMap, writeMapConfig } from "../e2e/map.ts";
import { telemetry } from "../integration/pipelines/support.ts";
import { createTopics, deleteTopics, kafkaBrokers, testKafka, uniqueTopic } from "../support/kafka.ts";
import { createTestDatabase, sql, type TestDatabase } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";
import { sleep } from "./support.ts";

const run = promisify(execFile);
const kafka = testKafka("history-faults");
const topics: string[] = [];
const databases: TestDatabase[] = [];
const children: { stop(): Promise<void> }[] = [];
let dir: string | undefined;

interface Setup {
  topics: { telemetry: string; events: string };
  db: { url: string };
  groupId: string;
  configFile: string;
}

async function setup(partitions: number, serverUrl?: string): Promise<Setup> {
  dir ??= await mkdtemp(join(tmpdir(), "fleetsync-history-faults-"));
  const t = { telemetry: uniqueTopic("history-ft"), events: uniqueTopic("history-fe") };
  await createTopics(kafka, [
    { topic: t.telemetry, partitions },
    { topic: t.events, partitions },
  ]);
  topics.push(t.telemetry, t.events);
  const db = await createTestDatabase("history_fault", serverUrl);
  databases.push(db);
  const groupId = `history-fault-${randomBytes(4).toString("hex")}`;
  const configFile = join(dir, `${groupId}.json`);
  await writeFile(
    configFile,
    JSON.stringify({
      groupId,
      kafka: { brokers: kafkaBrokers() },
      topics: t,
      database: { url: db.url, probeIntervalMs: 500, connectTimeoutMs: 2_000 },
      retry: { initialMs: 100, maxMs: 1_000 },
      http: { port: 0 },
    }),
  );
  return { topics: t, db, groupId, configFile };
}

interface HistoryChild {
  child: ChildProcess;
  port: number;
  kill(signal: NodeJS.Signals): Promise<unknown>;
  stop(): Promise<void>;
}

async function spawnHistory(s: Setup): Promise<HistoryChild> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "history", "--config", s.configFile], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
  });
  const life = childLifecycle(child, 15_000);
  children.push(life);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on("line", (line) => {
      if (line.includes('"ready":true')) resolve((JSON.parse(line) as { http: number }).http);
    });
    void life.exited.then((e) => reject(new Error(`fleetsync history exited (${e.code ?? e.signal}): ${stderr}`)));
  });
  return { child, port, kill: life.kill, stop: life.stop };
}

/** A valid record for any seq: the contract allows 7 decimals of latitude, so the position is rounded to them. */
function record(id: string, seq: number) {
  const r = telemetry(id, seq);
  return { ...r, gps: { ...r.gps!, lat: roundTo(48 + seq / 10_000, 7), lon: roundTo(11 + seq / 10_000, 7) } };
}

async function produceTelemetry(k: Kafka, topic: string, trucks: string[], from: number, count: number) {
  const producer = k.producer();
  await producer.connect();
  try {
    for (let start = from; start < from + count; start += 500) {
      const end = Math.min(from + count, start + 500);
      await producer.send({
        topic,
        acks: -1,
        messages: trucks.flatMap((id) =>
          Array.from({ length: end - start }, (_, i) => ({ key: id, value: JSON.stringify(record(id, start + i)) })),
        ),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

const rowCount = async (url: string) =>
  Number((await sql<{ n: string }>(url, "SELECT count(*) AS n FROM telemetry"))[0]!.n);

/** Exactly one row per produced record: per truck seqs 0..perTruck-1, each once (the key forbids twice). */
async function expectExactly(url: string, trucks: string[], perTruck: number) {
  const rows = await sql<{ truck_id: string; n: string; lo: string; hi: string }>(
    url,
    "SELECT truck_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM telemetry GROUP BY truck_id ORDER BY 1",
  );
  expect(rows.map((r) => [r.truck_id, Number(r.n), Number(r.lo), Number(r.hi)])).toEqual(
    [...trucks].sort().map((id) => [id, perTruck, 0, perTruck - 1]),
  );
}

async function waitRows(url: string, total: number, timeoutMs = 120_000) {
  await waitFor(async () => (await rowCount(url)) >= total || undefined, `${total} telemetry rows`, {
    timeoutMs,
    intervalMs: 250,
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    }).on("error", reject);
  });
}

async function migrated(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(client);
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await deleteTopics(kafka, topics);
  await Promise.all(databases.map((d) => d.drop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("fleetsync history faults", () => {
  it("SIGKILL with a batch's transaction open, then a restart: every record once", async () => {
    const s = await setup(2);
    const trucks = ["K1", "K2", "K3", "K4"];
    const perTruck = 2_000;
    await migrated(s.db.url);
    // Holds each insert's transaction open for 300 ms, so the kill below lands between COPY/INSERT and COMMIT.
    await sql(
      s.db.url,
      `CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
       CREATE TRIGGER hold AFTER INSERT ON telemetry FOR EACH STATEMENT EXECUTE FUNCTION hold();`,
    );
    await produceTelemetry(kafka, s.topics.telemetry, trucks, 0, perTruck);
    const first = await spawnHistory(s);
    await waitFor(
      async () => {
        const open = await sql<{ n: string }>(
          s.db.url,
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE application_name LIKE 'fleetsync-history:%' AND wait_event = 'PgSleep'`,
        );
        return Number(open[0]!.n) > 0 && (await rowCount(s.db.url)) > 0;
      },
      "a committed batch and another transaction open",
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await first.kill("SIGKILL");
    const before = await rowCount(s.db.url);
    expect(before).toBeLessThan(trucks.length * perTruck);
    await sql(s.db.url, "DROP TRIGGER hold ON telemetry");

    await spawnHistory(s);
    await waitRows(s.db.url, trucks.length * perTruck);
    await expectExactly(s.db.url, trucks, perTruck);
  });

  it("PostgreSQL stopped for 30 s while records keep coming: the map keeps updating, /readyz says why, then it catches up", async () => {
    const own = await startLocalPostgres();
    try {
      const s = await setup(2, own.url);
      const trucks = ["P1", "P2", "P3"];
      const h = await spawnHistory(s);
      // The live map on the same topics, in its own group (plus the status topic it needs).
      const status = uniqueTopic("history-fs");
      await createTopics(kafka, [{ topic: status, partitions: 2 }]);
      topics.push(status);
      const map = await spawnMap(
        await writeMapConfig(dir!, {
          groupId: `${s.groupId}-map`,
          kafka: { brokers: kafkaBrokers() },
          topics: { ...s.topics, status },
          http: { host: "127.0.0.1", port: 0 },
          deltaIntervalMs: 100,
        }),
      );
      children.push(map);
      const mapAt = async (seq: number) => {
        const shown = await mapSnapshot(map.url);
        return trucks.every((id) => shown.find((t) => t.id === id)?.seq === seq);
      };
      await produceTelemetry(kafka, s.topics.telemetry, trucks, 0, 500);
      await waitRows(s.db.url, trucks.length * 500);
      await waitFor(() => mapAt(499), "the map at seq 499", { timeoutMs: 60_000, intervalMs: 250 });

      await own.stop();
      const down = await waitFor(
        async () => {
          const r = await httpGet(h.port, "/readyz");
          return r.status === 503 ? r : undefined;
        },
        "/readyz reporting the outage",
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(down.body).toMatch(/database unavailable/);
      // Records keep coming during the outage: Kafka holds them; the service only retries its batch in hand.
      const outageBegan = Date.now();
      await produceTelemetry(kafka, s.topics.telemetry, trucks, 500, 1_500);
      // The map shows every truck's newest record while the database is still down (its group does not wait).
      await waitFor(() => mapAt(1_999), "the map at seq 1999 during the outage", {
        timeoutMs: 25_000,
        intervalMs: 250,
      });
      expect((await httpGet(h.port, "/readyz")).status).toBe(503);
      expect(await rowCount(s.db.url).catch(() => "unreachable")).toBe("unreachable");
      // The outage's length is the fault itself, not a wait for something to happen.
      await sleep(Math.max(0, 30_000 - (Date.now() - outageBegan)));
      expect(h.child.exitCode).toBeNull();
      await own.start();

      await waitRows(s.db.url, trucks.length * 2_000);
      await expectExactly(s.db.url, trucks, 2_000);
      await waitFor(async () => (await httpGet(h.port, "/readyz")).status === 200 || undefined, "ready again", {
        timeoutMs: 30_000,
      });
    } finally {
      await Promise.all(children.splice(0).map((c) => c.stop()));
      await own.stop();
    }
  });

  it("two instances share the group; one is SIGKILLed; the other takes over: every record once", async () => {
    const s = await setup(4);
    const trucks = Array.from({ length: 12 }, (_, i) => `R${i}`);
    const a = await spawnHistory(s);
    const b = await spawnHistory(s);
    await produceTelemetry(kafka, s.topics.telemetry, trucks, 0, 300);
    await waitRows(s.db.url, trucks.length * 300);
    // Both members wrote (the group split the partitions), so the kill below takes work away from a live writer.
    const inserted = async (port: number) => {
      const line = (await httpGet(port, "/metrics")).body
        .split("\n")
        .find((l) => l.startsWith("fleetsync_history_rows_total") && l.includes('result="inserted"'));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    expect(await inserted(a.port)).toBeGreaterThan(0);
    expect(await inserted(b.port)).toBeGreaterThan(0);
    await a.kill("SIGKILL");
    await produceTelemetry(kafka, s.topics.telemetry, trucks, 300, 700);
    // The survivor gets the dead member's partitions once its session times out (kafkajs: 30 s).
    await waitRows(s.db.url, trucks.length * 1_000, 180_000);
    await expectExactly(s.db.url, trucks, 1_000);
  });

  it("`fleetsync history replay --to earliest` reads everything again and writes nothing twice", async () => {
    const s = await setup(2);
    const trucks = ["E1", "E2"];
    await produceTelemetry(kafka, s.topics.telemetry, trucks, 0, 1_000);
    const h = await spawnHistory(s);
    await waitRows(s.db.url, 2_000);
    await h.stop();
    const positions = await sql<{ n: string }>(s.db.url, "SELECT count(*) AS n FROM consumer_positions");
    expect(Number(positions[0]!.n)).toBeGreaterThan(0);

    await run(
      process.execPath,
      [...fleetsyncCommand(), "history", "replay", "--to", "earliest", "--config", s.configFile],
      {
        cwd: REPO,
        timeout: 60_000,
      },
    );
    const again = await spawnHistory(s);
    const existing = async () => {
      const metrics = (await httpGet(again.port, "/metrics")).body;
      const line = metrics
        .split("\n")
        .find((l) => l.startsWith("fleetsync_history_rows_total") && l.includes("existing"));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    await waitFor(async () => (await existing()) === 2_000 || undefined, "every record read again", {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    await expectExactly(s.db.url, trucks, 1_000);
  });
});
