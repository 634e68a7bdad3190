/** The uplink's face to the agent, its metrics and tools. */
import type { Logger } from "../../common/log.ts";
import type { StatusRecord } from "../../protocol/index.ts";
import type { Outbox } from "../outbox/index.ts";
import type { ConnectMqtt } from "./mqtt-port.ts";

export interface UplinkDeps {
  truckId: string;
  outbox: Outbox;
  logger?: Logger;
  /** Agent details for the status topic (remote config: what the truck applied or refused). */
  status: () => AgentStatusFields;
  /** A payload on the truck's config topic (remote config); the uplink subscribes to it when this is given. */
  onConfig?: (payload: Buffer) => void;
  /** Opens an MQTT client; MQTT.js over TCP or TLS (mqtt-connect.ts) unless a test passes a double. */
  connect?: ConnectMqtt;
  /** The reconnect jitter's random source (backoff.ts); Math.random unless a test fixes it. */
  random?: () => number;
}

export type AgentStatusFields = Pick<
  StatusRecord,
  "agentVersion" | "bootId" | "appliedConfigVersion" | "configRejected"
>;

export interface UplinkStats {
  connected: boolean;
  /** When the current (or last) session came up (ms since the epoch; 0: never). */
  connectedAt: number;
  connects: number;
  disconnects: number;
  batchesPublished: number;
  recordsPublished: number;
  recordsAcked: number;
  publishErrors: number;
  /** Records sent as raw JSON because the codec refused them (the bridge dead-letters them). */
  recordsUnencodable: number;
  bytesPublished: number;
  /** Times the drain pacing (drainBytesPerSecond) held a batch back. */
  drainPacedWaits: number;
  /** Publishes on the latest lane, and how many of them the bridge acknowledged (in fleet.latest). */
  latestPublished: number;
  latestAcked: number;
  /** When the newest latest-lane record was acknowledged (ms since the epoch; 0: never). */
  latestAckedAt: number;
}

export interface Uplink {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): UplinkStats;
  /** Resolves when connected (for tools and tests). */
  whenConnected(): Promise<void>;
  /** Publishes the status again (when connected): what `status` returns has changed. */
  refreshStatus(): void;
}
