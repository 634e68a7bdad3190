/**
 * Reading history back: one truck's telemetry or events over a time range, in pages (keyset on ts, stream, seq),
 * so a year of one truck streams out in bounded memory. Rows come as the database returns them (snake_case columns).
 */
import pg from "pg";
import { FleetError } from "../../common/errors.ts";

export interface HistoryQuery {
  truckId: string;
  table: "telemetry" | "events";
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  pageSize?: number;
}

export type HistoryRow = Record<string, unknown>;

/** Yields the rows in (ts, stream, seq) order. */
export async function* queryHistory(url: string, query: HistoryQuery): AsyncGenerator<HistoryRow> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new FleetError("FLEET_DATABASE", `cannot connect to the history database: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const pageSize = query.pageSize ?? 5_000;
    // The table name comes from a closed union, never from input text.
    const table = query.table === "events" ? "events" : "telemetry";
    let after: { ts: Date; stream: string; seq: string } | undefined;
    for (;;) {
      const { rows } = await client.query<HistoryRow & { ts: Date; stream: string; seq: string }>(
        `SELECT * FROM ${table}
         WHERE truck_id = $1 AND ts >= $2 AND ts < $3
           AND ($4::timestamptz IS NULL OR (ts, stream, seq) > ($4, $5, $6))
         ORDER BY ts, stream, seq
         LIMIT $7`,
        [query.truckId, query.from, query.to, after?.ts ?? null, after?.stream ?? "", after?.seq ?? 0, pageSize],
      );
      for (const row of rows) yield row;
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { ts: last.ts, stream: last.stream, seq: last.seq };
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A row as one JSON object: timestamps as ISO 8601, int8 columns as numbers (seq and offsets fit in 2^53). */
export function rowToJson(row: HistoryRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v instanceof Date ? v.toISOString() : (k === "seq" || k === "kafka_offset") && v !== null ? Number(v) : v;
  }
  return out;
}

/** RFC 4180: quote a field that holds a comma, quote, CR or LF; double the quotes inside. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
