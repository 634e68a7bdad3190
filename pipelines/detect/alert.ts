/**
 * Building alerts from detector decisions. Everything in an alert comes from the records (event time, positions,
 * values) and the thresholds, never from the clock of the process, so a replay writes byte-identical alerts.
 */
import { type Alert, alertId, type Detector } from "../../protocol/alerts.ts";
import type { TimeSource } from "../../protocol/records.ts";
import type { LatLon } from "./geo.ts";

/** The record a detector is looking at, reduced to what alerts need. */
export interface Moment {
  truckId: string;
  stream: string;
  seq: number;
  tsMs: number;
  timeSource: TimeSource;
  position?: LatLon;
}

/** An alert that is open in a truck's state (JSON, kept in the changelog). */
export interface OpenAlert {
  id: string;
  detector: Detector;
  version: number;
  openedMs: number;
  trigger: { stream: string; seq: number; tsMs: number; timeSource: TimeSource };
  subject?: string;
}

export type Values = Alert["evidence"];

export interface AlertText {
  message: string;
  evidence: Values;
  thresholds: Values;
}

const iso = (ms: number) => new Date(ms).toISOString();

function position(at: LatLon | undefined): Pick<Alert, "position"> {
  return at ? { position: { lat: at.lat, lon: at.lon } } : {};
}

function build(open: OpenAlert, truckId: string, state: Alert["state"], atMs: number, text: AlertText, at?: LatLon) {
  const alert: Alert = {
    id: open.id,
    truckId,
    detector: open.detector,
    state,
    version: open.version,
    ...(open.subject === undefined ? {} : { subject: open.subject }),
    trigger: {
      stream: open.trigger.stream,
      seq: open.trigger.seq,
      ts: iso(open.trigger.tsMs),
      timeSource: open.trigger.timeSource,
    },
    openedAt: iso(open.openedMs),
    at: iso(atMs),
    ...position(at),
    ...text,
  };
  return alert;
}

/** Opens an alert triggered by `moment`; the condition began at `sinceMs` (default: the trigger's time). */
export function openAlert(
  moment: Moment,
  detector: Detector,
  text: AlertText,
  options: { subject?: string; sinceMs?: number; atMs?: number; at?: LatLon } = {},
): { open: OpenAlert; alert: Alert } {
  const open: OpenAlert = {
    id: alertId({
      truckId: moment.truckId,
      detector,
      stream: moment.stream,
      seq: moment.seq,
      subject: options.subject,
    }),
    detector,
    version: 0,
    openedMs: options.sinceMs ?? moment.tsMs,
    trigger: { stream: moment.stream, seq: moment.seq, tsMs: moment.tsMs, timeSource: moment.timeSource },
    ...(options.subject === undefined ? {} : { subject: options.subject }),
  };
  return {
    open,
    alert: build(open, moment.truckId, "opened", options.atMs ?? moment.tsMs, text, options.at ?? moment.position),
  };
}

/** The next change (updated or closed) of an open alert, at `moment`. */
export function changeAlert(open: OpenAlert, moment: Moment, state: "updated" | "closed", text: AlertText): Alert {
  open.version += 1;
  return build(open, moment.truckId, state, moment.tsMs, text, moment.position);
}

/** A momentary alert (refuel, geofence enter/exit): written once, already closed. */
export function momentaryAlert(moment: Moment, detector: Detector, text: AlertText, subject?: string): Alert {
  const { open } = openAlert(moment, detector, text, subject === undefined ? {} : { subject });
  return build(open, moment.truckId, "closed", moment.tsMs, text, moment.position);
}

export const isoTime = iso;
