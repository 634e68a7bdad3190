/**
 * A record before it has its place in a stream: what the agent's state and sampler make, and what the outbox stores.
 * The envelope (`truckId`, `stream`, `seq`) is the outbox's to give (design: sequence rules), so the body is the
 * record without it. Written here, beside the record shapes, because it is the same contract seen one step earlier.
 */
import type { EventRecord, TelemetryRecord } from "./records.ts";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The fields the outbox adds when it stores a body. */
export type EnvelopeKey = "truckId" | "stream" | "seq";

export type TelemetryBody = Omit<TelemetryRecord, EnvelopeKey>;
/** One body per event type: Omit distributes over the union so each keeps its own fields. */
export type EventBody = DistributiveOmit<EventRecord, EnvelopeKey>;

/** The body each channel carries. */
export interface ChannelBody {
  telemetry: TelemetryBody;
  events: EventBody;
}

/** The record each channel carries, envelope included. */
export interface ChannelRecord {
  telemetry: TelemetryRecord;
  events: EventRecord;
}
