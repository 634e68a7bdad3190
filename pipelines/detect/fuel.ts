/**
 * Detector 3, fuel drop while parked (siphoning), two ways, because what a truck reports while parked depends on
 * its bus:
 *
 * - Across a silent bus (the usual case): on J1939 the engine ECU, which sends the fuel level (DD1), is powered by
 *   the ignition and falls silent with it, so an agent reports no level while the truck is parked (its engine values
 *   leave the records once stale). The level at the stop is compared with the first level after the bus speaks
 *   again: a fall of more than `dropPct` points while the truck stayed within `radiusM` of where it stopped is a
 *   fuel-drop, a rise of more than `refuelPct` a refuel; both are momentary alerts (already closed) written at the
 *   start, since only then is the level known. The window is the parked interval, however long.
 * - Live, where levels keep coming with the engine off (key in the run position, or a tank sensor outside the ECU):
 *   the level falls by more than `dropPct` points within `windowMinutes` of event time while the engine reports 0 rpm
 *   and the truck stands still: a fuel-drop opens, and closes when the engine starts or the truck moves. A rise of
 *   more than `refuelPct` points while stationary is reported as a refuel (momentary, once per stop: a pump fills
 *   over several records) and restarts the window.
 *
 * The window is a fixed-size ring of samples (one per SAMPLE_EVERY_MS at most), so a truck's state stays small
 * however often it reports.
 */
import type { Alert } from "../../protocol/alerts.ts";
import { changeAlert, isoTime, momentaryAlert, type OpenAlert, openAlert } from "./alert.ts";
import type { DetectorThresholds } from "./config.ts";
import { distanceM, type LatLon } from "./geo.ts";
import type { Reading } from "./reading.ts";

export interface FuelState {
  /** [tsMs, level %] samples, oldest first, at most MAX_SAMPLES. */
  samples: [number, number][];
  drop?: OpenAlert;
  /** A refuel was reported during this stop: a pump fills over several records, reported once per stop. */
  refuelled?: boolean;
  /** The last level seen on GNSS time: what a level after a silent bus is compared with. */
  level?: { tsMs: number; pct: number };
  /** Where the truck has stood since `level` (its first stationary position). */
  stop?: LatLon;
  /** A record since `level` came without a level (the bus fell silent). */
  unseen?: boolean;
  /** The truck moved since `level`. */
  moved?: boolean;
}

export const MAX_SAMPLES = 32;
const SAMPLE_EVERY_MS = 30_000;

type Limits = DetectorThresholds["fuel"];

const thresholds = (t: Limits) => ({
  dropPct: t.dropPct,
  windowMinutes: t.windowMinutes,
  refuelPct: t.refuelPct,
  radiusM: t.radiusM,
});
const round1 = (v: number) => Math.round(v * 10) / 10;

export function detectFuel(state: FuelState, r: Reading, t: Limits, stillKmh: number, out: Alert[]): void {
  const stationary = r.speedKmh !== undefined && r.speedKmh < stillKmh;
  const parked = stationary && r.engineOn === false;
  // Closed by a fact only: a record that does not say (the bus fell silent as the key came out) leaves it open.
  const ended = r.engineOn === true || (r.speedKmh !== undefined && !stationary);
  if (ended && state.drop) {
    out.push(
      changeAlert(state.drop, r, "closed", {
        message: r.engineOn ? "fuel drop: engine started" : "fuel drop: truck moved",
        evidence: { fuelPct: r.fuelPct ?? null, speedKmh: r.speedKmh ?? null },
        thresholds: thresholds(t),
      }),
    );
    delete state.drop;
  }
  if (r.fuelPct === undefined) {
    if (state.level) state.unseen = true;
    trackStop(state, r, stationary, t.radiusM);
    return;
  }
  if (!r.timed) {
    // No duration can be measured on it, but where it was is a fact.
    trackStop(state, r, stationary, t.radiusM);
    return;
  }
  if (acrossSilence(state, r, r.fuelPct, t, out)) {
    // The samples before the silence say nothing about the level now (and would count the same rise twice).
    state.samples = [];
  }
  state.level = { tsMs: r.tsMs, pct: r.fuelPct };
  state.unseen = false;
  state.moved = false;
  if (stationary && r.position) state.stop = { lat: r.position.lat, lon: r.position.lon };
  else delete state.stop;
  if (!stationary) {
    // Driving burns fuel and sloshes the sender: the window restarts when the truck stops.
    state.samples = [];
    delete state.refuelled;
    return;
  }
  const windowMs = t.windowMinutes * 60_000;
  // Samples are in time order: drop those that left the window (or lie after this record: a new stream's clock).
  const samples = state.samples;
  while (samples.length > 0 && r.tsMs - samples[0]![0] > windowMs) samples.shift();
  while (samples.length > 0 && samples[samples.length - 1]![0] > r.tsMs) samples.pop();
  let low = Infinity;
  let high = -Infinity;
  for (const [, pct] of samples) {
    if (pct < low) low = pct;
    if (pct > high) high = pct;
  }
  const levels = samples;
  if (levels.length > 0 && r.fuelPct - low > t.refuelPct && !state.refuelled) {
    const from = samples.find(([, pct]) => pct === low)!;
    out.push(
      momentaryAlert(r, "refuel", {
        message: `refuelled: ${round1(low)} % -> ${round1(r.fuelPct)} %`,
        evidence: { fromPct: low, toPct: r.fuelPct, risePct: round1(r.fuelPct - low), fromTs: isoTime(from[0]) },
        thresholds: thresholds(t),
      }),
    );
    state.samples = [];
    state.refuelled = true;
  } else if (parked && !state.drop && levels.length > 0 && high - r.fuelPct > t.dropPct) {
    const from = samples.find(([, pct]) => pct === high)!;
    const opened = openAlert(
      r,
      "fuel-drop",
      {
        message: `fuel fell ${round1(high - r.fuelPct)} points while parked with the engine off`,
        evidence: {
          fromPct: high,
          toPct: r.fuelPct,
          dropPct: round1(high - r.fuelPct),
          fromTs: isoTime(from[0]),
          withinMs: r.tsMs - from[0],
        },
        thresholds: thresholds(t),
      },
      { sinceMs: from[0] },
    );
    state.drop = opened.open;
    out.push(opened.alert);
  }
  const last = state.samples[state.samples.length - 1];
  if (!last || r.tsMs - last[0] >= SAMPLE_EVERY_MS || Math.abs(r.fuelPct - last[1]) >= 1) {
    state.samples.push([r.tsMs, r.fuelPct]);
    if (state.samples.length > MAX_SAMPLES) state.samples.shift();
  }
}

function trackStop(state: FuelState, r: Reading, stationary: boolean, radiusM: number): void {
  if (!state.level || state.moved) return;
  if (r.speedKmh !== undefined && !stationary) state.moved = true;
  else if (r.position && !state.stop) state.stop = { lat: r.position.lat, lon: r.position.lon };
  else if (r.position && state.stop && distanceM(state.stop, r.position) > radiusM) state.moved = true;
}

/**
 * The level at the stop against the first one after a silent bus, when the truck did not move in between (its
 * first record after the start is still within `radiusM` of the stop: trucks build brake air pressure before they
 * pull away). Returns whether the comparison was made.
 */
function acrossSilence(state: FuelState, r: Reading, pct: number, t: Limits, out: Alert[]): boolean {
  const { level, stop } = state;
  if (!level || !state.unseen || state.moved || !stop || !r.position || r.tsMs <= level.tsMs) return false;
  const driftM = distanceM(stop, r.position);
  if (driftM > t.radiusM) return false;
  const change = pct - level.pct;
  const evidence = {
    fromPct: level.pct,
    toPct: pct,
    fromTs: isoTime(level.tsMs),
    parkedMs: r.tsMs - level.tsMs,
    driftM: Math.round(driftM * 10) / 10,
    levelUnseenWhileParked: true,
  };
  if (-change > t.dropPct) {
    out.push(
      momentaryAlert(r, "fuel-drop", {
        message: `fuel fell ${round1(-change)} points while parked (level at the stop vs at the next start)`,
        evidence: { ...evidence, dropPct: round1(-change) },
        thresholds: thresholds(t),
      }),
    );
  } else if (change > t.refuelPct && !state.refuelled) {
    out.push(
      momentaryAlert(r, "refuel", {
        message: `refuelled: ${round1(level.pct)} % -> ${round1(pct)} % while parked`,
        evidence: { ...evidence, risePct: round1(change) },
        thresholds: thresholds(t),
      }),
    );
    state.refuelled = true;
  }
  return true;
}
