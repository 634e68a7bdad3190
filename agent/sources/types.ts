/**
 * What the sources hand to the rest of the agent. The GPS side yields one fix per NMEA epoch; the CAN side yields
 * one decoded message per J1939 PGN (after transport reassembly) or OBD-II reply. Signal names are the engine field
 * names of protocol/records.ts; values are physical values at the bus's own resolution (the sampler rounds them to
 * the record's resolution).
 */
import type { Engine, J1939Dtc } from "../../protocol/index.ts";

/** One GPS fix, merged from the sentences of one epoch (GGA, RMC, GSA, VTG, GSV, GLL, ZDA). null = unknown. */
export interface GpsFix {
  /** GNSS UTC time of the epoch, ISO 8601 with milliseconds; null when the receiver has no time yet. */
  time: string | null;
  fix: "none" | "2d" | "3d";
  lat: number | null;
  lon: number | null;
  altM: number | null;
  speedKmh: number | null;
  courseDeg: number | null;
  sats: number | null;
  hdop: number | null;
  pdop: number | null;
}

/** Engine signals a message carries: any subset of the record's engine fields, plus trouble codes. */
export type EngineSignals = Partial<Record<keyof Engine, number | boolean | null>> & {
  /** DM1: the complete list of active J1939 trouble codes (an empty list means none are active). */
  dtcs?: J1939Dtc[];
  /** OBD-II mode 03: stored trouble codes such as P0301. */
  obdDtcs?: string[];
};

export interface J1939Message {
  kind: "j1939";
  /** Seconds since the epoch from the capture or adapter; receive time when the format has none. */
  ts: number | null;
  /** The 29-bit CAN id. */
  id: number;
  pgn: number;
  sa: number;
  priority: number;
  /** The PGN's acronym, e.g. EEC1, CCVS1, DM1. */
  name: string;
  signals: EngineSignals;
}

export interface ObdMessage {
  kind: "obd2";
  ts: number | null;
  /** The 11-bit reply id, e.g. 0x7E8. */
  id: number;
  /** Service: 0x01 current data, 0x03 stored trouble codes. */
  mode: number;
  /** PID for mode 01; null for mode 03. */
  pid: number | null;
  signals: EngineSignals;
}

export type CanMessage = J1939Message | ObdMessage;

/** Counters every source exposes (lines, bytes, errors by kind), for logs, metrics and `doctor`. */
export type SourceCounters = Readonly<Record<string, number>>;

export interface GpsSourceDeps {
  onFix(fix: GpsFix): void;
}

export interface CanSourceDeps {
  onMessage(message: CanMessage): void;
}

/** The lifecycle every long-lived component shares lives in common/; re-exported so the sources' imports stay. */
export type { Lifecycle } from "../../common/lifecycle.ts";
import type { Lifecycle } from "../../common/lifecycle.ts";

/** A source on a serial port, as the agent's metrics and `doctor` see it. */
export interface PortSource extends Lifecycle {
  counters(): SourceCounters;
  /** Whether its port is open now. */
  isOpen(): boolean;
}
