/**
 * Detector 1, idling / possible theft: engine running, slower than `speedKmh` and within `radiusM` of where it
 * stopped, for at least `minutes` of event time. Closes when the truck moves (faster, or out of the radius) or the
 * engine stops. Inside a geofence marked `idlingAllowed` (a depot) it does not open.
 */
import type { Alert } from "../../protocol/alerts.ts";
import { changeAlert, isoTime, type OpenAlert, openAlert } from "./alert.ts";
import type { DetectorThresholds } from "./config.ts";
import { distanceM, type LatLon } from "./geo.ts";
import type { Reading } from "./reading.ts";

export interface IdlingState {
  /** Where and when the current stop began (GNSS time). */
  start?: { tsMs: number; lat: number; lon: number };
  open?: OpenAlert;
}

type Limits = DetectorThresholds["idling"];

const thresholds = (t: Limits) => ({ idleMinutes: t.minutes, speedKmh: t.speedKmh, radiusM: t.radiusM });

export function detectIdling(
  state: IdlingState,
  r: Reading,
  t: Limits,
  idlingAllowedAt: (at: LatLon) => boolean,
  out: Alert[],
): void {
  const stopped = r.engineOn === true && r.speedKmh !== undefined && r.speedKmh < t.speedKmh;
  if (!stopped) {
    // Engine off (or unknown) or moving: a fact whatever the record's clock.
    if (r.engineOn !== undefined || r.speedKmh !== undefined)
      end(state, r, t, r.engineOn === false ? "engine off" : "moving", out);
    return;
  }
  if (r.position === undefined || !r.timed) return;
  const start = state.start;
  const drift = start ? distanceM(start, r.position) : 0;
  if (!start || drift > t.radiusM || r.tsMs < start.tsMs) {
    if (start) end(state, r, t, "moved", out);
    state.start = { tsMs: r.tsMs, lat: r.position.lat, lon: r.position.lon };
    return;
  }
  const idleMs = r.tsMs - start.tsMs;
  if (state.open || idleMs < t.minutes * 60_000 || idlingAllowedAt(start)) return;
  const opened = openAlert(
    r,
    "idling",
    {
      message: `engine running, not moving for ${Math.floor(idleMs / 60_000)} min`,
      evidence: {
        sinceTs: isoTime(start.tsMs),
        idleMs,
        engineSpeedRpm: r.engineSpeedRpm ?? null,
        speedKmh: r.speedKmh ?? null,
        driftM: Math.round(drift * 10) / 10,
        startLat: start.lat,
        startLon: start.lon,
      },
      thresholds: thresholds(t),
    },
    { sinceMs: start.tsMs },
  );
  state.open = opened.open;
  out.push(opened.alert);
}

function end(state: IdlingState, r: Reading, t: Limits, why: string, out: Alert[]): void {
  if (state.open) {
    out.push(
      changeAlert(state.open, r, "closed", {
        message: `idling ended: ${why}`,
        evidence: {
          reason: why,
          idleMs: r.tsMs - state.open.openedMs,
          engineSpeedRpm: r.engineSpeedRpm ?? null,
          speedKmh: r.speedKmh ?? null,
        },
        thresholds: thresholds(t),
      }),
    );
  }
  delete state.open;
  delete state.start;
}
