/**
 * The history database: the only place that knows `pg`. One batch is one transaction: the rows, and the consumer
 * position (next offset and the in-order filter) of the batch's partition. Rows and position commit together or not
 * at all, so a crash anywhere repeats nothing and loses nothing; the primary key keeps a replay from earliest (or a
 * restored position that lags) from adding a row twice.
 *
 * How the rows go in: COPY straight into the history table, under a savepoint. Normally none of them is there yet
 * (the stored position and the in-order filter see to it), and this is the cheapest way in: the same work as a plain
 * COPY. When one is there (a replay, a position that lagged its rows), the table's primary key refuses the COPY
 * (unique_violation); the batch then rolls back to the savepoint and takes the merging path: COPY into a temporary
 * staging table, then INSERT ... ON CONFLICT (truck_id, stream, seq) DO NOTHING. The merging path costs about twice
 * the database work (`npm run bench:history` measured the pipeline at 0.2-0.33x of a plain COPY when every batch took
 * it), so a partition stays on it only while its batches still meet rows that are there, i.e. through a replay.
 */
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { FleetError, isFleetError } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { OffsetStore, RecordBatch, StoredPosition } from "../runtime/types.ts";
import type { HistoryConfig } from "./config.ts";
import { migrate } from "./migrations.ts";
import { EVENT_COLUMNS, eventLine, TELEMETRY_COLUMNS, telemetryLine } from "./rows.ts";

export interface WriteResult {
  /** Rows new to the database. */
  inserted: number;
  /** Rows already there (a replay, or a position that lagged its rows). */
  existing: number;
}

export interface HistoryStore extends OffsetStore {
  /** Applies the schema migrations (refuses a newer schema). */
  migrate(): Promise<number>;
  /** Writes a telemetry or events batch and its position in one transaction. */
  write(batch: RecordBatch): Promise<WriteResult>;
  /** Deletes the group's stored positions (a replay): the next assignment starts at Kafka's committed offsets. */
  forgetPositions(): Promise<number>;
  /** SELECT 1: resolves when the database answers. */
  probe(): Promise<void>;
  /** Ends every connection. Idempotent. */
  close(): Promise<void>;
}

/** PostgreSQL's SQLSTATE for a duplicate key. */
const UNIQUE_VIOLATION = "23505";

const TABLES = {
  telemetry: { table: "telemetry", staging: "staging_telemetry", columns: TELEMETRY_COLUMNS },
  events: { table: "events", staging: "staging_events", columns: EVENT_COLUMNS },
} as const;

export function createHistoryStore(config: HistoryConfig["database"], groupId: string, logger: Logger): HistoryStore {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.connections,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs,
    application_name: `fleetsync-history:${groupId}`,
  });
  // An idle connection that the server drops (restart, outage) is reported here; without a listener it would crash
  // the process. The next query gets a fresh connection, or fails and its batch comes again.
  pool.on("error", (error) => logger.warn({ err: error }, "an idle database connection failed"));
  const staged = new WeakSet<pg.PoolClient>();
  /** Partitions (topic, partition) whose last batch met rows already stored: they take the merging path. */
  const merging = new Set<string>();
  let closing: Promise<void> | undefined;

  async function withClient<T>(what: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (closing) throw new FleetError("FLEET_CLOSED", "the history store is closed");
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw dbError(`cannot connect to the history database (${what})`, error);
    }
    let broken = false;
    try {
      return await work(client);
    } catch (error) {
      broken = true;
      if (isFleetError(error)) throw error;
      throw dbError(`the history database failed (${what})`, error);
    } finally {
      // A connection that failed mid-transaction is discarded, never reused half-way through something.
      client.release(broken);
    }
  }

  async function ensureStaging(client: pg.PoolClient): Promise<void> {
    if (staged.has(client)) return;
    for (const t of Object.values(TABLES)) {
      // Per connection, emptied at every commit; LIKE copies the column types from the history table.
      await client.query(
        `CREATE TEMP TABLE IF NOT EXISTS ${t.staging} (LIKE ${t.table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
      );
    }
    staged.add(client);
  }

  async function copy(client: pg.PoolClient, table: string, columns: string, text: string): Promise<void> {
    await pipeline(Readable.from([text]), client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
  }

  /** Writes the rows inside the open transaction; returns how many were new. */
  async function insertRows(client: pg.PoolClient, batch: RecordBatch & { kind: keyof typeof TABLES }, text: string) {
    const t = TABLES[batch.kind];
    const columns = t.columns.join(", ");
    const partition = `${batch.topic}\u0000${batch.partition}`;
    if (!merging.has(partition)) {
      await client.query("SAVEPOINT straight");
      try {
        await copy(client, t.table, columns, text);
        return batch.records.length;
      } catch (error) {
        if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
        await client.query("ROLLBACK TO SAVEPOINT straight");
        merging.add(partition);
        logger.info({ topic: batch.topic, partition: batch.partition }, "rows already stored: merging (a replay?)");
      }
    }
    await copy(client, t.staging, columns, text);
    const result = await client.query(
      `INSERT INTO ${t.table} (${columns}) SELECT ${columns} FROM ${t.staging} ` +
        "ON CONFLICT (truck_id, stream, seq) DO NOTHING",
    );
    const inserted = result.rowCount ?? 0;
    // Every row was new: past the replayed range, so the next batch tries the straight COPY again.
    if (inserted === batch.records.length) merging.delete(partition);
    return inserted;
  }

  function copyText(batch: RecordBatch): string {
    let text = "";
    if (batch.kind === "telemetry") for (const d of batch.records) text += telemetryLine(d, batch.partition);
    else if (batch.kind === "events") for (const d of batch.records) text += eventLine(d, batch.partition);
    return text;
  }

  return {
    migrate: () => withClient("migrate", (client) => migrate(client)),

    write(batch) {
      if (batch.kind === "status" || batch.kind === "alerts" || batch.kind === "latest") {
        throw new FleetError("FLEET_PIPELINE_HANDLER", `the history pipeline does not read the ${batch.kind} topic`);
      }
      const position = batch.position();
      const text = copyText(batch);
      return withClient(`write ${batch.topic}/${batch.partition}`, async (client) => {
        await ensureStaging(client);
        await client.query("BEGIN");
        try {
          const inserted = text.length > 0 ? await insertRows(client, batch, text) : 0;
          await client.query(
            `INSERT INTO consumer_positions (group_id, topic, partition, next_offset, filter)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (group_id, topic, partition)
             DO UPDATE SET next_offset = EXCLUDED.next_offset, filter = EXCLUDED.filter, updated_at = now()`,
            [groupId, batch.topic, batch.partition, position.nextOffset, JSON.stringify(position.filter ?? null)],
          );
          await client.query("COMMIT");
          return { inserted, existing: batch.records.length - inserted };
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      });
    },

    load(topic, partition) {
      return withClient(`load position ${topic}/${partition}`, async (client) => {
        const { rows } = await client.query<{ next_offset: string; filter: StoredPosition["filter"] | null }>(
          "SELECT next_offset, filter FROM consumer_positions WHERE group_id = $1 AND topic = $2 AND partition = $3",
          [groupId, topic, partition],
        );
        const row = rows[0];
        if (!row) return undefined;
        return row.filter ? { nextOffset: row.next_offset, filter: row.filter } : { nextOffset: row.next_offset };
      });
    },

    forgetPositions: () =>
      withClient("forget positions", async (client) => {
        const result = await client.query("DELETE FROM consumer_positions WHERE group_id = $1", [groupId]);
        return result.rowCount ?? 0;
      }),

    probe: () => withClient("probe", (client) => client.query("SELECT 1").then(() => undefined)),

    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}

function dbError(message: string, cause: unknown): FleetError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FleetError("FLEET_DATABASE", `${message}: ${reason}`, { cause });
}
