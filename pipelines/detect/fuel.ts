/**
 * Detector 3, fuel drop while parked (siphoning): the fuel level falls by more than `dropPct` points within
 * `windowMinutes` of event time while the engine is off and the truck stands still. A rise of more than
 * `refuelPct` points while stationary is reported as a refuel (momentary alert, once per stop: a pump fills over
 * several records) and restarts the window.
 *
 * The window is a fixed-size ring of samples (one per SAMPLE_EVERY_MS at most), so a truck's state stays small
 * however often it reports.
 */
import type { Alert } from "../../protocol/alerts.ts";
import { changeAlert, isoTime, momentaryAlert, type OpenAlert, openAlert } from "./alert.ts";
import type { DetectorThresholds } from "./config.ts";
import type { Reading } from "./reading.ts";

export interface FuelState {
  /** [tsMs, level %] samples, oldest first, at most MAX_SAMPLES. */
  samples: [number, number][];
  drop?: OpenAlert;
  /** A refuel was reported during this stop: a pump fills over several records, reported once per stop. */
  refuelled?: boolean;
}

export const MAX_SAMPLES = 32;
const SAMPLE_EVERY_MS = 30_000;

type Limits = DetectorThresholds["fuel"];

const thresholds = (t: Limits) => ({ dropPct: t.dropPct, windowMinutes: t.windowMinutes, refuelPct: t.refuelPct });
const round1 = (v: number) => Math.round(v * 10) / 10;

export function detectFuel(state: FuelState, r: Reading, t: Limits, stillKmh: number, out: Alert[]): void {
  const stationary = r.speedKmh !== undefined && r.speedKmh < stillKmh;
  const parked = stationary && r.engineOn === false;
  if (!parked && state.drop) {
    out.push(
      changeAlert(state.drop, r, "closed", {
        message: r.engineOn ? "fuel drop: engine started" : "fuel drop: truck moved",
        evidence: { fuelPct: r.fuelPct ?? null, speedKmh: r.speedKmh ?? null },
        thresholds: thresholds(t),
      }),
    );
    delete state.drop;
  }
  if (r.fuelPct === undefined || !r.timed) return;
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
