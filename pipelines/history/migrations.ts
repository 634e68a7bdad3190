/**
 * The history schema, as numbered migrations applied in order at start (`migrate`). A migration is never edited
 * once released: a change is a new entry. `fleetsync_schema_version` records what was applied; a database whose
 * highest version is above the last one here was written by a newer fleetsync, and this one refuses to touch it.
 *
 * Column names are the Kafka contract's field names in snake_case, units in the names as there (docs/history.md).
 * Numbers with decimals are double precision: every contract resolution (1e-7 degrees .. 0.01) survives exactly
 * enough for reporting, and SQL sums need no casts. "Absent" and "null" engine fields both become NULL.
 */
import type pg from "pg";
import { FleetError } from "../../common/errors.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const envelope = `
  truck_id        text        NOT NULL,
  stream          text        NOT NULL,
  seq             bigint      NOT NULL,
  ts              timestamptz NOT NULL,
  time_source     text        NOT NULL,`;

const kafkaColumns = `
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  received_at     timestamptz NOT NULL,
  stored_at       timestamptz NOT NULL DEFAULT now(),`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "telemetry, events, consumer positions",
    sql: `
CREATE TABLE telemetry (${envelope}
  fix               text,
  lat               double precision,
  lon               double precision,
  alt_m             double precision,
  speed_kmh         double precision,
  course_deg        double precision,
  sats              smallint,
  hdop              double precision,
  engine_speed_rpm  integer,
  torque_pct        smallint,
  wheel_speed_kmh   double precision,
  brake_switch      boolean,
  parking_brake     boolean,
  coolant_temp_c    smallint,
  fuel_rate_lph     double precision,
  fuel_level_pct    double precision,
  engine_hours      double precision,
  run_time_s        integer,
  total_distance_km double precision,
  total_fuel_l      double precision,
  oil_pressure_kpa  smallint,
  ambient_temp_c    double precision,
  dtcs              jsonb,
  obd_dtcs          text[],${kafkaColumns}
  PRIMARY KEY (truck_id, stream, seq)
);
-- One truck over a time range.
CREATE INDEX telemetry_truck_ts ON telemetry (truck_id, ts);
-- The fleet over a day: rows arrive roughly in time order, so a BRIN index is tiny and prunes well.
CREATE INDEX telemetry_ts_brin ON telemetry USING brin (ts);

CREATE TABLE events (${envelope}
  kind          text NOT NULL,
  details       jsonb NOT NULL,
  lat           double precision,
  lon           double precision,
  dtc_spn       integer,
  dtc_fmi       smallint,
  dtc_obd       text,${kafkaColumns}
  PRIMARY KEY (truck_id, stream, seq)
);
CREATE INDEX events_truck_ts ON events (truck_id, ts);
CREATE INDEX events_ts_brin ON events USING brin (ts);
CREATE INDEX events_kind_ts ON events (kind, ts);

-- Where each consumer group resumes, written in the same transaction as the rows (exactly once).
CREATE TABLE consumer_positions (
  group_id    text    NOT NULL,
  topic       text    NOT NULL,
  partition   integer NOT NULL,
  next_offset bigint  NOT NULL,
  filter      jsonb,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
`,
  },
  {
    version: 2,
    name: "reporting views: daily summary, trips",
    sql: `
-- Per truck and UTC day. Distance, engine hours and fuel come from the ECU's counters (max - min of the day), so a
-- lost record changes nothing; idle time sums the intervals after a record with the engine running (rpm > 0) and
-- the truck standing (speed < 3 km/h), each interval capped at 60 s so a night parked with the gateway off is
-- not idling.
CREATE VIEW truck_daily_summary AS
WITH ordered AS (
  SELECT truck_id, ts, speed_kmh, engine_speed_rpm, total_distance_km, engine_hours, total_fuel_l,
         LEAST(EXTRACT(EPOCH FROM lead(ts) OVER (PARTITION BY truck_id ORDER BY ts) - ts), 60) AS next_s
  FROM telemetry
)
SELECT truck_id,
       (ts AT TIME ZONE 'UTC')::date AS day,
       count(*) AS records,
       max(total_distance_km) - min(total_distance_km) AS distance_km,
       max(engine_hours) - min(engine_hours) AS engine_hours,
       max(total_fuel_l) - min(total_fuel_l) AS fuel_used_l,
       max(speed_kmh) AS max_speed_kmh,
       avg(speed_kmh) AS avg_speed_kmh,
       coalesce(sum(next_s) FILTER (WHERE engine_speed_rpm > 0 AND speed_kmh < 3), 0) AS idle_s
FROM ordered
GROUP BY truck_id, (ts AT TIME ZONE 'UTC')::date;

-- A trip: ignition on until the next ignition event of the truck, if that is an off (an on without its off is a
-- trip still under way: ended_at NULL).
CREATE VIEW trips AS
WITH ignition AS (
  SELECT truck_id, ts, (details->>'on')::boolean AS on_,
         lead(ts) OVER w AS next_ts,
         lead((details->>'on')::boolean) OVER w AS next_on
  FROM events
  WHERE kind = 'ignition'
  WINDOW w AS (PARTITION BY truck_id ORDER BY ts, stream, seq)
)
SELECT truck_id,
       ts AS started_at,
       CASE WHEN next_on = false THEN next_ts END AS ended_at,
       CASE WHEN next_on = false THEN EXTRACT(EPOCH FROM next_ts - ts) END AS duration_s
FROM ignition
WHERE on_;
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

// Any fixed number: two instances starting together take turns instead of both creating the tables.
const MIGRATION_LOCK = 0x666c_6565;

/** Applies the missing migrations in order, each in its own transaction; refuses a newer schema. */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS fleetsync_schema_version (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM fleetsync_schema_version");
    const current = rows[0]?.v ?? 0;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new FleetError(
        "FLEET_SCHEMA_NEWER",
        `the history database has schema version ${current}, newer than this fleetsync's ${latest}: upgrade fleetsync`,
        { details: { current, latest } },
      );
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO fleetsync_schema_version (version, name) VALUES ($1, $2)", [m.version, m.name]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
    return Math.max(current, latest);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
  }
}
