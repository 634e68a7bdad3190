/**
 * Thinning, the first half of the `thin-then-drop` when-full policy (issue 20): when a long outage fills the outbox,
 * its oldest telemetry is thinned one window (an hour by default) at a time instead of being dropped wholesale. Of a
 * window, one record per `keepEveryMs` is kept, and every record that carries a state change: the engine switched
 * on, started or stopped (a telemetry record has no ignition field; the engine part is absent while the CAN bus is
 * silent), the active trouble codes changed, the truck started or stopped moving, the parking brake was set or
 * released (what geofence and idling rules turn on). Around a change both sides are kept: the last record before
 * it and the first after it, so a stop's position and time survive.
 *
 * Pure selection over stored rows; the outbox reads the rows, writes the deletes with the announcing `thinned`
 * event and its watermark in one batch (outbox.ts), and never offers rows the uplink has read.
 */
import type { EventBody, TelemetryBody, TimeSource } from "../../protocol/index.ts";
import { seqOfKey } from "./keys.ts";

/** Speed at and above which a truck counts as moving (the detectors' idling threshold, pipelines/detect). */
export const MOVING_KMH = 3;

export interface ThinOptions {
  /** One record per this many ms is kept (plus every state change). */
  keepEveryMs: number;
  /** The span of one pass, from the first row's ts. */
  windowMs: number;
}

export interface ThinPlan {
  /** The range the pass examined (and the event announces): its first and last seq. */
  fromSeq: number;
  toSeq: number;
  /** Rows examined, from the first. */
  examined: number;
  /** Rows to delete, in seq order, with their stored sizes (key + value). */
  remove: Array<{ seq: number; key: string; bytes: number }>;
}

/** What, in a telemetry record, a consumer must not lose to thinning; two records with the same key are alike. */
export function stateKey(body: Partial<TelemetryBody>): string {
  const engine = body.engine;
  const power = engine === undefined ? "off" : (engine.engineSpeedRpm ?? 0) > 0 ? "run" : "on";
  const speed = body.gps?.speedKmh ?? engine?.wheelSpeedKmh ?? null;
  const moving = speed === null ? "?" : speed >= MOVING_KMH ? "moving" : "stopped";
  const park = engine?.parkingBrake === true ? "park" : "";
  const codes = [
    ...(body.dtcs ?? []).map((d) => `${d.sa ?? ""}/${d.spn}/${d.fmi}`),
    ...(body.obdDtcs ?? []).map(String),
  ].sort();
  return `${power} ${moving} ${park} ${codes.join(",")}`;
}

interface Row {
  seq: number;
  key: string;
  bytes: number;
  /** ms since the epoch; NaN when the record cannot be read (then it is kept). */
  ts: number;
  state: string;
}

function readRow([key, value]: [string, string]): Row {
  const base = { seq: seqOfKey(key), key, bytes: key.length + value.length };
  try {
    const body = JSON.parse(value) as Partial<TelemetryBody>;
    const ts = typeof body.ts === "string" ? Date.parse(body.ts) : Number.NaN;
    return { ...base, ts, state: stateKey(body) };
  } catch {
    return { ...base, ts: Number.NaN, state: "" };
  }
}

/**
 * Chooses what to thin from `rows` (stored telemetry, oldest first, from the first seq thinning may touch). The
 * window is the rows from the first one's ts to `windowMs` later; it must be complete: `full` says the rows stop at
 * a read limit (then the window ends there), otherwise a row at or after the window's end must be present, so that
 * the newest, still-growing hour is never thinned piece by piece (one event per commit). Undefined: nothing to thin.
 */
export function selectThinning(
  rows: Array<[string, string]>,
  options: ThinOptions,
  full: boolean,
): ThinPlan | undefined {
  if (rows.length === 0) return undefined;
  const parsed = rows.map(readRow);
  const start = parsed.find((r) => Number.isFinite(r.ts))?.ts;
  if (start === undefined) return undefined;
  const end = start + options.windowMs;
  // A clock that jumps back (system time before the first fix) stays inside the window: only a ts at or past its
  // end closes it.
  let count = parsed.findIndex((r) => r.ts >= end);
  if (count < 0) {
    if (!full) return undefined;
    count = parsed.length;
  }
  if (count === 0) return undefined;
  const keep = new Array<boolean>(count).fill(false);
  keep[0] = true;
  let lastKeptTs = parsed[0]!.ts;
  for (let i = 1; i < count; i++) {
    const row = parsed[i]!;
    const prev = parsed[i - 1]!;
    if (!Number.isFinite(row.ts) || row.state !== prev.state) {
      keep[i] = true;
      keep[i - 1] = true;
    } else if (!(row.ts - lastKeptTs < options.keepEveryMs && row.ts >= lastKeptTs)) {
      // Due for a position, or the clock went back (a new time base: start counting from here).
      keep[i] = true;
    }
    if (keep[i] && Number.isFinite(row.ts)) lastKeptTs = row.ts;
  }
  const remove: ThinPlan["remove"] = [];
  for (let i = 0; i < count; i++) {
    if (!keep[i]) remove.push({ seq: parsed[i]!.seq, key: parsed[i]!.key, bytes: parsed[i]!.bytes });
  }
  return { fromSeq: parsed[0]!.seq, toSeq: parsed[count - 1]!.seq, examined: count, remove };
}

/** A thinning pass as committed: its range, what it removed and the seq of the event that announces it. */
export interface ThinnedInfo {
  fromSeq: number;
  toSeq: number;
  count: number;
  keptEveryS: number;
  bytes: number;
  /** seq of the thinned event on the events channel. */
  eventSeq: number;
}

/** The event record that announces a thinned telemetry range. */
export function thinnedEvent(time: { ts: string; timeSource: TimeSource }, info: ThinnedInfo): EventBody {
  return {
    ts: time.ts,
    timeSource: time.timeSource,
    type: "thinned",
    channel: "telemetry",
    fromSeq: info.fromSeq,
    toSeq: info.toSeq,
    count: info.count,
    keptEveryS: info.keptEveryS,
  };
}
