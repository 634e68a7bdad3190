/**
 * Detector 2, silent truck: a truck whose last record said it was moving or had its engine on sends nothing for
 * `minutes`, and is not `offline` by its own will (a clean MQTT DISCONNECT; a keepalive timeout or a cut
 * connection is not). Silence has no event time (there is no record to carry it), so this detector runs on a
 * wall-clock sweep against the Kafka time of the truck's last record, and only for partitions the pipeline has
 * read to their end: while it works through a backlog or a replay, "nothing came yet" is not silence.
 *
 * The alert's id comes from the last record before the silence, so whoever opens it (a live sweep, or the sweep
 * after a restart or a replay catches up) gives the same id. The next record closes it; that side is event-driven
 * and replays the same. What a replay does NOT re-derive is a silence that both began and ended before the replay
 * caught up: whether the truck had said goodbye lives in fleet.status, which is not ordered with its telemetry.
 * docs/pipelines.md ("detect") tells operators this.
 */
import type { Alert } from "../../protocol/alerts.ts";
import { changeAlert, isoTime, type Moment, type OpenAlert, openAlert } from "./alert.ts";
import type { DetectorThresholds } from "./config.ts";
import type { Reading } from "./reading.ts";

/** The last record of a truck, as the sweep needs it. */
export interface LastSeen extends Moment {
  arrivalMs: number;
  active: boolean;
}

export interface SilentState {
  last?: LastSeen;
  open?: OpenAlert;
}

type Limits = DetectorThresholds["silent"];

/** The bridge writes this reason for a clean MQTT DISCONNECT (bridge/bridge.ts); anything else was a loss. */
export { CLEAN_DISCONNECT_REASON } from "../../protocol/records.ts";

export function trackSilence(state: SilentState, r: Reading, t: Limits, out: Alert[]): void {
  if (state.open && state.last) {
    out.push(
      changeAlert(state.open, r, "closed", {
        message: `truck heard again after ${Math.round((r.arrivalMs - state.last.arrivalMs) / 60_000)} min`,
        evidence: {
          lastArrivalAt: isoTime(state.last.arrivalMs),
          resumedArrivalAt: isoTime(r.arrivalMs),
          silentMs: r.arrivalMs - state.last.arrivalMs,
        },
        thresholds: { silentMinutes: t.minutes },
      }),
    );
    delete state.open;
  }
  const active = r.engineOn === true || (r.speedKmh !== undefined && r.speedKmh >= 3);
  state.last = {
    truckId: r.truckId,
    stream: r.stream,
    seq: r.seq,
    tsMs: r.tsMs,
    timeSource: r.timeSource,
    arrivalMs: r.arrivalMs,
    active,
    ...(r.position ? { position: r.position } : {}),
  };
}

/** The sweep's check of one truck at wall time `nowMs`; `leftByWill` reads the truck's latest status. */
export function sweepSilence(state: SilentState, nowMs: number, t: Limits, leftByWill: boolean, out: Alert[]): boolean {
  const last = state.last;
  if (!last || state.open || !last.active || leftByWill) return false;
  const limitMs = t.minutes * 60_000;
  if (nowMs - last.arrivalMs < limitMs) return false;
  const opened = openAlert(
    last,
    "silent",
    {
      message: `silent for ${t.minutes} min; its last record said moving or engine on`,
      evidence: { lastArrivalAt: isoTime(last.arrivalMs), lastTs: isoTime(last.tsMs) },
      thresholds: { silentMinutes: t.minutes },
    },
    // Event time of the change: the last record's time plus the limit (not the sweep's clock, so a restart's
    // sweep writes the same value).
    { atMs: last.tsMs + limitMs },
  );
  state.open = opened.open;
  out.push(opened.alert);
  return true;
}
