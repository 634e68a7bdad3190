import { FleetError } from "../common/errors.ts";
import { isTruckId } from "./truck-id.ts";

/** Every FleetSync MQTT topic lives under this prefix; the version is part of the topic so v2 can run beside v1. */
export const TOPIC_PREFIX = "fleetsync/v1";

/**
 * The per-truck topics of the contract:
 * - telemetry: QoS 1, a batch of telemetry records
 * - events: QoS 1, discrete events
 * - status: retained, online (on connect) / offline (the will)
 * - latest: QoS 1, one telemetry record: the truck's current state, sent at once on reconnect and while a backlog
 *   drains (issue 20). Not part of the ordered telemetry stream: the bridge writes it to the compacted fleet.latest.
 * - config: the only topic a truck may subscribe to; the bridge answers confirmation requests on `config/confirm`
 */
export const TOPIC_KINDS = ["telemetry", "events", "status", "latest", "config"] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

/** The record channels: each has its own outbox queue, its own `seq` sequence and its own Kafka topic. */
export const CHANNELS = ["telemetry", "events"] as const;
export type Channel = (typeof CHANNELS)[number];

export function topicFor(truckId: string, kind: TopicKind): string {
  if (!isTruckId(truckId)) {
    throw new FleetError(
      "FLEET_TRUCK_ID_INVALID",
      `cannot build a topic for invalid truck id ${JSON.stringify(truckId)}`,
    );
  }
  return `${TOPIC_PREFIX}/${truckId}/${kind}`;
}

/** Where the bridge publishes its answer to a confirmation request (MQTT 5 response topic). */
export function confirmTopic(truckId: string): string {
  return `${topicFor(truckId, "config")}/confirm`;
}

export interface ParsedTopic {
  truckId: string;
  kind: TopicKind;
  /** Levels below the kind, e.g. ["confirm"] for `.../config/confirm`. */
  rest: string[];
}

/** Parses a contract topic, or returns undefined when the topic is not one (callers decide how to refuse it). */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts.length < 4 || `${parts[0]}/${parts[1]}` !== TOPIC_PREFIX) return undefined;
  const truckId = parts[2]!;
  const kind = parts[3] as TopicKind;
  if (!isTruckId(truckId) || !TOPIC_KINDS.includes(kind)) return undefined;
  const rest = parts.slice(4);
  // Only config has sub-levels (config/confirm); any other deeper topic is outside the contract.
  if (rest.length > 0 && kind !== "config") return undefined;
  return { truckId, kind, rest };
}
