/**
 * Detector 5, geofences: entering and leaving a fence are momentary alerts; staying inside longer than the
 * fence's dwell limit (event time) opens a dwell alert that closes on exit. The subject of each is the fence id,
 * so one record that crosses two fences gives two alerts with different ids.
 */
import type { Alert } from "../../protocol/alerts.ts";
import { changeAlert, isoTime, momentaryAlert, type OpenAlert, openAlert } from "./alert.ts";
import { contains, type FenceIndex, type Geofence, type LatLon } from "./geo.ts";
import type { Reading } from "./reading.ts";

/** Per fence the truck is inside now: when it entered, and its open dwell alert. */
export type GeofenceState = Record<string, { enteredMs: number; dwell?: OpenAlert }>;

export function detectGeofences(state: GeofenceState, r: Reading, index: FenceIndex, out: Alert[]): void {
  const at = r.position;
  if (at === undefined) return;
  // The fences near the point (to enter), then those the truck is inside but are not near (to leave).
  const near = index.near(at);
  for (const fence of near) crossing(state, r, at, fence, out);
  for (const id in state) {
    const fence = index.byId(id);
    if (!fence)
      delete state[id]; // no longer in the fence file
    else if (!near.includes(fence)) crossing(state, r, at, fence, out);
  }
}

function crossing(state: GeofenceState, r: Reading, at: LatLon, fence: Geofence, out: Alert[]): void {
  const inside = contains(fence, at);
  const was = state[fence.id];
  const thresholds = { dwellMinutes: fence.dwellMs === undefined ? null : fence.dwellMs / 60_000 };
  if (inside && !was) {
    state[fence.id] = { enteredMs: r.tsMs };
    out.push(
      momentaryAlert(
        r,
        "geofence-enter",
        { message: `entered ${fence.name}`, evidence: { fence: fence.name }, thresholds },
        fence.id,
      ),
    );
  } else if (!inside && was) {
    const dwellMs = r.tsMs - was.enteredMs;
    if (was.dwell) {
      out.push(
        changeAlert(was.dwell, r, "closed", {
          message: `left ${fence.name} after ${Math.round(dwellMs / 60_000)} min`,
          evidence: { fence: fence.name, dwellMs },
          thresholds,
        }),
      );
    }
    delete state[fence.id];
    out.push(
      momentaryAlert(
        r,
        "geofence-exit",
        {
          message: `left ${fence.name}`,
          evidence: { fence: fence.name, enteredTs: isoTime(was.enteredMs), dwellMs },
          thresholds,
        },
        fence.id,
      ),
    );
  } else if (inside && was && !was.dwell && fence.dwellMs !== undefined && r.timed) {
    const dwellMs = r.tsMs - was.enteredMs;
    if (dwellMs < fence.dwellMs) return;
    const opened = openAlert(
      r,
      "geofence-dwell",
      {
        message: `in ${fence.name} for ${Math.round(dwellMs / 60_000)} min`,
        evidence: { fence: fence.name, enteredTs: isoTime(was.enteredMs), dwellMs },
        thresholds,
      },
      { subject: fence.id, sinceMs: was.enteredMs },
    );
    was.dwell = opened.open;
    out.push(opened.alert);
  }
}

/** True when `at` is inside a fence where idling is allowed (a depot). */
export function idlingAllowed(index: FenceIndex, at: { lat: number; lon: number }): boolean {
  return index.near(at).some((f) => f.idlingAllowed && contains(f, at));
}
