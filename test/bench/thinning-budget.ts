/**
 * `npm run bench:thinning`: how much history an outbox budget keeps for a day of driving, with drop-oldest and
 * with thin-then-drop (issue 20's closing figure). Not a timing: sizes as the outbox stores them (its key plus the
 * record body's JSON, outbox.ts) and the outbox's own thinning selection (agent/outbox/thinning.ts) over a day built
 * from the wire benchmark's realistic 1 Hz drive (full J1939 engine data, test/bench/wire-drive.ts): ten hours of
 * driving (ten drives of ~62 minutes, each with its town stops, idling and motorway), and fourteen hours parked, the
 * engine off, one GPS-only record per parkedPeriodMs (default 5 minutes). Also at the sampler's default moving
 * period (one record per 5 s while moving) instead of 1 Hz.
 *
 *   npm run bench:thinning [-- --budget-mb 64 --keep-every-s 30 --window-s 3600]
 */
import { parseArgs } from "node:util";
import { recordKey } from "../../agent/outbox/keys.ts";
import { selectThinning } from "../../agent/outbox/thinning.ts";
import type { TelemetryBody, TelemetryRecord } from "../../protocol/index.ts";
import { simulateDrive } from "./wire-drive.ts";

const { values } = parseArgs({
  options: {
    "budget-mb": { type: "string", default: "64" },
    "keep-every-s": { type: "string", default: "30" },
    "window-s": { type: "string", default: "3600" },
  },
});
const BUDGET = Number(values["budget-mb"]) * 1024 * 1024;
const KEEP_EVERY_S = Number(values["keep-every-s"]);
const WINDOW_S = Number(values["window-s"]);
const DAY_START = Date.parse("2026-03-14T05:00:00.000Z");
const PARKED_PERIOD_S = 300;

/** What the outbox stores: the body without the envelope (truckId, stream, seq), under a 16-byte key. */
function stored(seq: number, body: TelemetryBody): [string, string] {
  return [recordKey("telemetry", seq), JSON.stringify(body)];
}

function body({ truckId: _t, stream: _s, seq: _q, ...rest }: TelemetryRecord): TelemetryBody {
  return rest;
}

/** A day: ten drives back to back from 05:00, then parked until the next 05:00. `everyS`: keep one per N s moving. */
function day(everyS: number): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  let ts = DAY_START;
  let seq = 0;
  let last: TelemetryRecord | undefined;
  for (let drive = 0; drive < 10; drive++) {
    const records = simulateDrive({ seed: 42 + drive, startTs: new Date(ts).toISOString() });
    for (const [i, r] of records.entries()) if (i % everyS === 0) rows.push(stored(seq++, body(r)));
    last = records.at(-1)!;
    ts = Date.parse(last.ts) + 1000;
  }
  // Parked, engine off: no CAN traffic, so no engine part; GPS still reports (a stationary fix).
  const parked = { ...body(last!), engine: undefined, dtcs: undefined };
  delete parked.engine;
  delete parked.dtcs;
  parked.gps = { ...parked.gps!, speedKmh: 0 };
  for (; ts < DAY_START + 86_400_000; ts += PARKED_PERIOD_S * 1000) {
    rows.push(stored(seq++, { ...parked, ts: new Date(ts).toISOString() }));
  }
  return rows;
}

const bytesOf = (rows: Array<[string, string]>) => rows.reduce((n, [k, v]) => n + k.length + v.length, 0);

/** The day after thinning, window by window from the oldest, as the outbox's passes do. */
function thinned(rows: Array<[string, string]>): Array<[string, string]> {
  const kept: Array<[string, string]> = [];
  let at = 0;
  while (at < rows.length) {
    const plan = selectThinning(rows.slice(at), { keepEveryMs: KEEP_EVERY_S * 1000, windowMs: WINDOW_S * 1000 }, true);
    if (!plan) break;
    const removed = new Set(plan.remove.map((r) => r.seq));
    for (const row of rows.slice(at, at + plan.examined))
      if (!removed.has(Number.parseInt(row[0].slice(2), 16))) kept.push(row);
    at += plan.examined;
  }
  return kept;
}

function report(name: string, rows: Array<[string, string]>): void {
  const driving = rows.filter(([, v]) => v.includes('"engine"'));
  const parked = rows.filter(([, v]) => !v.includes('"engine"'));
  const raw = bytesOf(rows);
  const thin = thinned(rows);
  const thinBytes = bytesOf(thin);
  // thin-then-drop keeps the newest window whole (it is still open) and the rest thinned.
  const newestWindow = bytesOf(driving.slice(-Math.ceil(WINDOW_S / (name.includes("5 s") ? 5 : 1))));
  const dropDays = BUDGET / raw;
  const thinDays = (BUDGET - newestWindow) / thinBytes;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(2);
  process.stdout.write(
    `${name}: ${rows.length} records a day (${driving.length} engine on, full J1939, ${Math.round(bytesOf(driving) / driving.length)} B ` +
      `stored each; ${parked.length} parked, GPS only, ${Math.round(bytesOf(parked) / Math.max(1, parked.length))} B), ${mb(raw)} MB a day\n` +
      `  drop-oldest:    ${mb(BUDGET)} MB keeps ${dropDays.toFixed(1)} days (${(dropDays * 24).toFixed(0)} h) of full history\n` +
      `  thin-then-drop: a day thins to ${thin.length} records, ${mb(thinBytes)} MB (one per ${KEEP_EVERY_S} s and every ` +
      `state change); ${mb(BUDGET)} MB keeps ${thinDays.toFixed(1)} days (${(thinDays * 24).toFixed(0)} h), ` +
      `${(thinDays / dropDays).toFixed(1)}x as long\n`,
  );
}

process.stdout.write(
  `outbox budget ${values["budget-mb"]} MB, thinning windows of ${WINDOW_S} s keeping one record per ${KEEP_EVERY_S} s\n`,
);
report("1 Hz while moving", day(1));
report("one per 5 s while moving (sampler default)", day(5));
