/**
 * `fleetsync history` against a real Kafka and a real PostgreSQL: every record the in-order filter keeps becomes
 * exactly one row, with the bridge's receive time and its Kafka position; a restart resumes at the stored position
 * and a replay from earliest adds no row twice; invalid records are counted and skipped; a database outage shows on
 * /readyz and the pipeline catches up afterwards; a newer schema is refused; the reporting views and the query
 * reader give the figures computed here from the same records.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isFleetError } from "../../../common/errors.ts";
import { startLocalPostgres } from "../../../deploy/postgres/local-postgres.ts";
import { createHistoryService, type HistoryService, parseHistoryConfig } from "../../../pipelines/history/index.ts";
import { queryHistory } from "../../../pipelines/history/query.ts";
import { replayGroup } from "../../../pipelines/runtime/replay.ts";
import { KAFKA_HEADERS } from "../../../protocol/kafka.ts";
import type { EventRecord, TelemetryRecord } from "../../../protocol/records.ts";
import { createTopics, deleteTopics, kafkaBrokers, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { createTestDatabase, sql, type TestDatabase } from "../../support/postgres.ts";
import { waitFor } from "../../support/wait.ts";
import { ignition, produce, telemetry } from "./support.ts";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../../..");
const kafka = testKafka("history-test");
const topics: string[] = [];
const services: HistoryService[] = [];
const databases: TestDatabase[] = [];

async function setup(partitions = 2) {
  const t = { telemetry: uniqueTopic("history-t"), events: uniqueTopic("history-e") };
  await createTopics(kafka, [
    { topic: t.telemetry, partitions },
    { topic: t.events, partitions },
  ]);
  topics.push(t.telemetry, t.events);
  const db = await createTestDatabase("history");
  databases.push(db);
  const groupId = `history-test-${randomBytes(4).toString("hex")}`;
  return { topics: t, db, groupId };
}

function service(s: { topics: { telemetry: string; events: string }; db: { url: string }; groupId: string }) {
  const config = parseHistoryConfig({
    groupId: s.groupId,
    kafka: { brokers: kafkaBrokers() },
    topics: s.topics,
    database: { url: s.db.url, probeIntervalMs: 200, connectTimeoutMs: 1_000 },
    retry: { initialMs: 50, maxMs: 500 },
    http: { port: 0 },
  });
  const h = createHistoryService(config);
  services.push(h);
  return h;
}

const count = async (url: string, table: string) =>
  Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]!.n);

const keys = async (url: string, table: string) =>
  (await sql<{ k: string }>(url, `SELECT truck_id || ':' || stream || ':' || seq AS k FROM ${table} ORDER BY 1`)).map(
    (r) => r.k,
  );

const keyOf = (r: { truckId: string; stream: string; seq: number }) => `${r.truckId}:${r.stream}:${r.seq}`;

function readyz(h: HistoryService): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: h.address()!.port, path: "/readyz" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await deleteTopics(kafka, topics);
  await Promise.all(databases.map((d) => d.drop()));
});

describe("fleetsync history", () => {
  it("writes each kept record once, skips invalid ones, resumes at its stored position, and replays without duplicates", async () => {
    const s = await setup();
    const trucks = ["H1", "H2", "H3", "H4"];
    const first = trucks.flatMap((id) => Array.from({ length: 50 }, (_, i) => telemetry(id, i)));
    // A retry's duplicate and a record of another producer: the one is filtered, the other counted and skipped.
    await produce(kafka, s.topics.telemetry, [...first, telemetry("H1", 10), { truckId: "H2", hello: "junk" }]);
    const events = trucks.flatMap((id) => [ignition(id, 0, true), ignition(id, 1, false)]);
    await produce(kafka, s.topics.events, events);

    const h = service(s);
    await h.start();
    await waitFor(async () => (await count(s.db.url, "telemetry")) === first.length || undefined, "first rows");
    await waitFor(async () => (await count(s.db.url, "events")) === events.length || undefined, "event rows");
    expect(await keys(s.db.url, "telemetry")).toEqual(first.map(keyOf).sort());
    expect(await keys(s.db.url, "events")).toEqual(events.map(keyOf).sort());
    const invalid = await h.runner.metrics.records.get();
    expect(invalid.values.find((v) => v.labels.result === "invalid")?.value).toBe(1);

    // Every row knows where it came from: its Kafka partition and offset, and when the bridge received it.
    const [row] = await sql<{ kafka_offset: string; received_at: Date; speed_kmh: number; lat: number }>(
      s.db.url,
      "SELECT kafka_offset, received_at, speed_kmh, lat FROM telemetry WHERE truck_id = 'H1' AND seq = 7",
    );
    expect(row!.speed_kmh).toBe(50);
    expect(row!.lat).toBe(48.0007);
    expect(row!.received_at).toBeInstanceOf(Date);
    const positions = await sql<{ topic: string; next_offset: string; filter: unknown }>(
      s.db.url,
      "SELECT topic, next_offset, filter FROM consumer_positions WHERE group_id = $1",
      [s.groupId],
    );
    expect(positions.length).toBeGreaterThan(0);
    await h.stop();

    // A restart resumes at the stored position: only the new records are read and written.
    const second = trucks.flatMap((id) => Array.from({ length: 20 }, (_, i) => telemetry(id, 50 + i)));
    await produce(kafka, s.topics.telemetry, second);
    const h2 = service(s);
    await h2.start();
    const total = first.length + second.length;
    await waitFor(async () => (await count(s.db.url, "telemetry")) === total || undefined, "rows after restart");
    const rowsMetric = async (svc: HistoryService, result: string) => {
      const text = await svc.runner.metrics.registry.getSingleMetricAsString("fleetsync_history_rows_total");
      const line = text.split("\n").find((l) => l.includes('table="telemetry"') && l.includes(`result="${result}"`));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    expect(await rowsMetric(h2, "inserted")).toBe(second.length);
    expect(await rowsMetric(h2, "existing")).toBe(0);
    await h2.stop();

    // Replay from earliest (what `fleetsync history replay --to earliest` does): every record is read again and
    // none is written twice.
    await replayGroup({
      brokers: kafkaBrokers(),
      groupId: s.groupId,
      target: { kind: "earliest" },
      topics: [s.topics.telemetry, s.topics.events],
    });
    const h3 = service(s);
    await h3.store.forgetPositions();
    await h3.start();
    await waitFor(async () => (await rowsMetric(h3, "existing")) === total || undefined, "the replay read everything");
    expect(await keys(s.db.url, "telemetry")).toEqual([...first, ...second].map(keyOf).sort());
    expect(await rowsMetric(h3, "inserted")).toBe(0);
  });

  it("stops writing while PostgreSQL is down, says why on /readyz, and catches up once it is back", async () => {
    const own = await startLocalPostgres();
    try {
      const s = await setup(1);
      const db = await createTestDatabase("history_outage", own.url);
      const h = service({ ...s, db });
      await h.start();
      await produce(kafka, s.topics.telemetry, [telemetry("D1", 0), telemetry("D1", 1)]);
      await waitFor(async () => (await count(db.url, "telemetry")) === 2 || undefined, "rows before the outage");
      await waitFor(async () => (await readyz(h)).status === 200 || undefined, "ready before the outage");

      await own.stop();
      const down = await waitFor(async () => {
        const r = await readyz(h);
        return r.status === 503 ? r : undefined;
      }, "/readyz reporting the outage");
      expect(down.body).toMatch(/database unavailable/);
      const more = Array.from({ length: 100 }, (_, i) => telemetry("D1", 2 + i));
      await produce(kafka, s.topics.telemetry, more);

      await own.start();
      await waitFor(async () => (await count(db.url, "telemetry")) === 102 || undefined, "caught up after the outage", {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      await waitFor(async () => (await readyz(h)).status === 200 || undefined, "ready after the outage");
    } finally {
      await Promise.all(services.splice(0).map((x) => x.stop()));
      await own.stop();
    }
  });

  it("refuses to start against a newer schema", async () => {
    const s = await setup(1);
    const first = service(s);
    await first.store.migrate();
    await sql(s.db.url, "INSERT INTO fleetsync_schema_version (version, name) VALUES (999, 'from the future')");
    const h = service(s);
    const error = await h.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFleetError(error, "FLEET_SCHEMA_NEWER")).toBe(true);
    expect((error as Error).message).toMatch(/999/);
  });

  it("daily summary, trips and the query reader match the records they came from", async () => {
    const s = await setup(1);
    const day = Date.UTC(2026, 10, 2, 8, 0, 0);
    // A seeded drive: 1 record/s for 10 minutes, idling the first 60 s, then driving at a rising speed.
    const drive: TelemetryRecord[] = Array.from({ length: 600 }, (_, i) => {
      const speed = i < 60 ? 0 : Math.round((20 + (i % 50)) * 10) / 10;
      return telemetry("S1", i, {
        ts: new Date(day + i * 1000).toISOString(),
        gps: { fix: "3d", lat: 48, lon: 11, altM: 500, speedKmh: speed, courseDeg: 0, sats: 9, hdop: 1 },
        engine: {
          engineSpeedRpm: 900,
          totalDistanceKm: Math.round((1000 + i * 0.012) * 1000) / 1000,
          engineHours: Math.round((500 + i / 3600) * 100) / 100,
          totalFuelL: Math.round((20_000 + i * 0.01) * 10) / 10,
        },
      });
    });
    const trip: EventRecord[] = [
      { ...ignition("S1", 0, true), ts: new Date(day).toISOString() },
      { ...ignition("S1", 1, false), ts: new Date(day + 600_000).toISOString() },
    ];
    const kafkaMessages = drive.map((r) => ({
      key: r.truckId,
      value: JSON.stringify(r),
      headers: { [KAFKA_HEADERS.receivedAt]: new Date(day + r.seq * 1000 + 150).toISOString() },
    }));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: s.topics.telemetry, messages: kafkaMessages, acks: -1 });
    await producer.disconnect();
    await produce(kafka, s.topics.events, trip);

    const h = service(s);
    await h.start();
    await waitFor(async () => (await count(s.db.url, "telemetry")) === 600 || undefined, "the drive's rows");
    await waitFor(async () => (await count(s.db.url, "events")) === 2 || undefined, "the trip's events");

    const [summary] = await sql<Record<string, number | string | Date>>(
      s.db.url,
      "SELECT * FROM truck_daily_summary WHERE truck_id = 'S1'",
    );
    const speeds = drive.map((r) => r.gps!.speedKmh!);
    const e = (i: number) => drive[i]!.engine!;
    expect(Number(summary!.records)).toBe(600);
    expect(summary!.distance_km).toBeCloseTo(e(599).totalDistanceKm! - e(0).totalDistanceKm!, 6);
    expect(summary!.engine_hours).toBeCloseTo(e(599).engineHours! - e(0).engineHours!, 6);
    expect(summary!.fuel_used_l).toBeCloseTo(e(599).totalFuelL! - e(0).totalFuelL!, 6);
    expect(summary!.max_speed_kmh).toBe(Math.max(...speeds));
    expect(summary!.avg_speed_kmh).toBeCloseTo(speeds.reduce((a, b) => a + b, 0) / speeds.length, 6);
    // Idle: the 60 records standing with the engine on, each followed by a record 1 s later.
    expect(Number(summary!.idle_s)).toBe(60);

    const trips = await sql<{ started_at: Date; ended_at: Date; duration_s: string }>(
      s.db.url,
      "SELECT * FROM trips WHERE truck_id = 'S1'",
    );
    expect(trips).toHaveLength(1);
    expect(Number(trips[0]!.duration_s)).toBe(600);

    const received = await sql<{ received_at: Date }>(s.db.url, "SELECT received_at FROM telemetry WHERE seq = 3");
    expect(received[0]!.received_at.toISOString()).toBe(new Date(day + 3150).toISOString());

    // The reader pages through a range (page size 7 to cross many page edges), in order, bounds honoured.
    const got: number[] = [];
    for await (const r of queryHistory(s.db.url, {
      truckId: "S1",
      table: "telemetry",
      from: new Date(day + 100_000),
      to: new Date(day + 200_000),
      pageSize: 7,
    })) {
      got.push(Number(r.seq));
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));

    // The command line: CSV with a header, and JSON Lines of the events.
    const cli = (args: string[]) =>
      run(process.execPath, ["--import", "tsx", "cli/fleetsync.ts", "history", "query", "--truck", "S1", ...args], {
        cwd: REPO,
        env: { ...process.env, DATABASE_URL: s.db.url },
      }).then((r) => r.stdout.trim().split("\n"));
    const range = ["--from", new Date(day).toISOString(), "--to", new Date(day + 3_000).toISOString()];
    const csv = await cli([...range, "--format", "csv"]);
    expect(csv).toHaveLength(4);
    const header = csv[0]!.split(",");
    expect(header.slice(0, 3)).toEqual(["truck_id", "stream", "seq"]);
    expect(csv.slice(1).map((l) => l.split(",")[header.indexOf("seq")])).toEqual(["0", "1", "2"]);
    const jsonl = await cli([
      "--from",
      new Date(day).toISOString(),
      "--to",
      new Date(day + 601_000).toISOString(),
      "--events",
    ]);
    expect(jsonl.map((l) => JSON.parse(l) as { kind: string; details: unknown })).toMatchObject([
      { kind: "ignition", details: { on: true } },
      { kind: "ignition", details: { on: false } },
    ]);
  });
});
