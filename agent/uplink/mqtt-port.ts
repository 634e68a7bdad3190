/**
 * The part of an MQTT client the uplink uses: the port MQTT.js's MqttClient satisfies (mqtt-connect.ts opens a real
 * one), and what a unit test's double implements. Small on purpose: a connection that says `connect`, `error` and
 * `close`, QoS 1 publishes whose callback is the PUBACK (or the error that replaced it), and `end`.
 */
import type { IClientOptions } from "mqtt";

export interface MqttPort {
  on(event: "connect", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  on(event: "message", listener: (topic: string, payload: Buffer) => void): unknown;
  removeAllListeners(event: "close"): unknown;
  /** QoS 1: `callback` runs when the PUBACK arrives (no error) or the publish failed (an MQTT 5 reason >= 0x80). */
  publish(
    topic: string,
    payload: Buffer,
    options: { qos: 1; retain?: boolean },
    callback: (error?: Error) => void,
  ): unknown;
  /** `granted[i].qos` 128 is a refusal (SUBACK 0x80). */
  subscribe(
    topic: string,
    options: { qos: 1 },
    callback: (error: Error | null, granted?: { topic: string; qos: number }[]) => void,
  ): unknown;
  /** `force`: drop the socket without a DISCONNECT. */
  end(force: boolean, options?: Record<string, never>, callback?: () => void): unknown;
}

/** Opens a client for one connection attempt (reconnectPeriod 0: the uplink does its own reconnecting). */
export type ConnectMqtt = (url: string, options: IClientOptions) => MqttPort;
