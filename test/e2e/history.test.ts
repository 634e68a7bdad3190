/**
 * The whole path into the database: simulated trucks on ptys → real agents → the bridge process → Kafka →
 * `fleetsync history` → PostgreSQL. The rows must be what the verifier reads from Kafka through protocol/'s
 * in-order filter: per truck the same number kept, per stream the same unique count and highest seq, from the same
 * partition, one row per (truck, stream, seq) — and each with the bridge's receive time.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createHistoryService, type HistoryService, parseHistoryConfig } from "../../pipelines/history/index.ts";
import type { VerifySummary } from "../../sim/index.ts";
import { kafkaBrokers } from "../support/kafka.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";
import { describeResult, type FleetRun, startFleetRun } from "./fleet.ts";

const TRUCKS = 3;
const PER_TRUCK = 150;

interface StreamRow {
  truck_id: string;
  stream: string;
  n: string;
  max_seq: string;
  partitions: number[];
  without_receive_time: string;
}

async function streams(url: string, table: string): Promise<StreamRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<StreamRow>(
      `SELECT truck_id, stream, count(*) AS n, max(seq) AS max_seq,
              array_agg(DISTINCT kafka_partition) AS partitions,
              count(*) FILTER (WHERE received_at IS NULL) AS without_receive_time
       FROM ${table} GROUP BY truck_id, stream ORDER BY truck_id, stream`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

/** The verifier's view, in the same shape as the database's. */
function expected(summary: VerifySummary) {
  return Object.entries(summary.trucks)
    .flatMap(([truckId, t]) =>
      t.streams.map((s) => ({ truckId, stream: s.stream, n: s.unique, maxSeq: s.maxSeq, partitions: t.partitions })),
    )
    .sort((a, b) => (a.truckId + a.stream).localeCompare(b.truckId + b.stream));
}

function actual(rows: StreamRow[]) {
  return rows.map((r) => ({
    truckId: r.truck_id,
    stream: r.stream,
    n: Number(r.n),
    maxSeq: Number(r.max_seq),
    partitions: r.partitions,
  }));
}

describe("end to end: trucks → agents → bridge → Kafka → fleetsync history → PostgreSQL", () => {
  let run: FleetRun | undefined;
  let history: HistoryService | undefined;
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await history?.stop();
    await run?.close();
    await db?.drop();
  });

  it(`${TRUCKS} trucks × ${PER_TRUCK} records: one row per record the verifier keeps`, async () => {
    db = await createTestDatabase("e2e_history");
    run = await startFleetRun({ name: "history", brokers: kafkaBrokers(), trucks: TRUCKS });
    history = createHistoryService(
      parseHistoryConfig({
        kafka: { brokers: kafkaBrokers() },
        topics: { telemetry: run.topics.telemetry, events: run.topics.events },
        database: { url: db.url },
        http: { port: 0 },
      }),
    );
    // Started while the trucks drive: the pipeline writes as records arrive, not from a finished topic.
    await history.start();
    await run.waitMade(PER_TRUCK, 90_000);
    const result = await run.finish();
    process.stdout.write(`${describeResult("e2e-history", result)}\n`);
    expect(result.telemetry.ok).toBe(true);
    expect(result.events.ok).toBe(true);

    for (const [table, summary] of [
      ["telemetry", result.telemetry],
      ["events", result.events],
    ] as const) {
      const want = expected(summary);
      const total = want.reduce((n, s) => n + s.n, 0);
      expect(total).toBe(summary.totals.kept);
      const rows = await waitFor(
        async () => {
          const r = await streams(db!.url, table);
          return r.reduce((n, s) => n + Number(s.n), 0) >= total ? r : undefined;
        },
        `${total} ${table} rows`,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(actual(rows), table).toEqual(want);
      expect(rows.every((r) => r.without_receive_time === "0")).toBe(true);
    }
  });
});
