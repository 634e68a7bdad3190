/**
 * What the sources hand to the rest of the agent: decoded fixes and messages (their types live with the decoders,
 * agent/decoders/types.ts), through the callbacks below, and the counters and open state `doctor` and the metrics
 * read.
 */
import type { CanMessage, GpsFix } from "../decoders/types.ts";

// Re-exported so code written against the sources' interface keeps one import.
export type { CanMessage, EngineSignals, GpsFix, J1939Message, ObdMessage } from "../decoders/types.ts";

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
