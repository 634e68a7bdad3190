/**
 * Issue 19, the bridge's side: desired configs from a real Kafka topic reach the truck they are for, over real
 * MQTT clients (mosquitto_sub among them), on subscribe and on change; the ACL keeps every other truck out of them.
 */
import { spawn } from "node:child_process";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKafka, writeDesired } from "../../../cli/config-kafka.ts";
import { parseBridgeConfig } from "../../../bridge/config.ts";
import type { Bridge } from "../../../bridge/bridge.ts";
import { kafkaBrokers, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  closeAll,
  connectTruck,
  PASSWORD,
  startBridge,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const T1 = "dl-truck-1";
const T2 = "dl-truck-2";
const topicOf = (truckId: string) => `fleetsync/v1/${truckId}/config`;
const config = (truckId: string, version: number) =>
  JSON.stringify({ truckId, version, sampler: { movingPeriodMs: 1_000 * version } });

interface Sub {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("bridge downlink: fleet.config → fleetsync/v1/{truckId}/config", () => {
  const brokers = kafkaBrokers();
  const topic = uniqueTopic("downlink-config");
  const kafka = configKafka({ brokers, configTopic: topic, statusTopic: "unused" });
  let ws: Workspace;
  let bridge: Bridge;
  let port: number;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    ws = await workspace([T1, T2]);
    await writeDesired(kafka, topic, T1, config(T1, 1));
    await writeDesired(kafka, topic, T2, config(T2, 1));
    const base = bridgeConfig({ brokers, topics: testTopics("downlink"), credentialsFile: ws.credentialsFile });
    ({ bridge, port } = await startBridge(parseBridgeConfig({ ...base, downlink: { topic } })));
  });

  afterAll(async () => {
    await closeAll(clients);
    await bridge?.stop();
    await ws?.remove();
  });

  it("mosquitto_sub as a truck gets its own desired config on subscribing", async () => {
    const sub = await runMosquittoSub(port, T1, topicOf(T1));
    expect(sub.stderr).toBe("");
    expect(sub.stdout.trim()).toBe(config(T1, 1));
  });

  it("mosquitto_sub as a truck cannot subscribe to another truck's config, nor to a wildcard", async () => {
    for (const filter of [topicOf(T2), "fleetsync/v1/+/config", "#"]) {
      const sub = await runMosquittoSub(port, T1, filter, 5);
      expect(sub.stdout, filter).toBe("");
      expect(sub.stderr, filter).toMatch(/denied/i);
    }
  });

  it("a change reaches the subscribed truck at once, and only that truck; a tombstone says 'no override'", async () => {
    const received = { [T1]: [] as string[], [T2]: [] as string[] };
    for (const truckId of [T1, T2] as const) {
      const client = await connectTruck(port, truckId);
      clients.push(client);
      client.on("message", (t, payload) => {
        expect(t).toBe(topicOf(truckId));
        received[truckId].push(payload.toString());
      });
      const granted = await client.subscribeAsync(topicOf(truckId), { qos: 1 });
      expect(granted[0]!.qos).toBe(1);
    }
    await waitFor(() => received[T1].length === 1 && received[T2].length === 1, "each truck's config on subscribe");
    await writeDesired(kafka, topic, T1, config(T1, 2));
    await waitFor(() => received[T1].length === 2, "T1's change delivered");
    expect(received[T1][1]).toBe(config(T1, 2));
    await writeDesired(kafka, topic, T1, null);
    await waitFor(() => received[T1].length === 3, "T1's tombstone delivered");
    expect(received[T1][2]).toBe("");
    // T2 got nothing of T1's: its own config once, on its subscribe.
    expect(received[T2]).toEqual([config(T2, 1)]);
  });

  it("a truck can never publish to a config topic, its own or another's", async () => {
    const watcher = await connectTruck(port, T1, { clientId: T1 });
    clients.push(watcher);
    const seen: string[] = [];
    watcher.on("message", (_t, payload) => seen.push(payload.toString()));
    await watcher.subscribeAsync(topicOf(T1), { qos: 1 });
    for (const target of [topicOf(T2), topicOf(T1)]) {
      const forger = await connectTruck(port, T2);
      clients.push(forger);
      // Refused: an MQTT 5 PUBACK with a failure reason, or the connection closed without a PUBACK.
      const accepted = await new Promise<boolean>((resolve) => {
        const deadline = setTimeout(() => resolve(false), 10_000);
        forger.once("close", () => resolve(false));
        forger.publish(target, JSON.stringify({ truckId: T1, version: 99 }), { qos: 1 }, (error, packet) => {
          clearTimeout(deadline);
          resolve(!error && ((packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0) < 0x80);
        });
      });
      expect(accepted, target).toBe(false);
    }
    // A real change after the forgeries: when it arrives, anything forged would have arrived before it.
    await writeDesired(kafka, topic, T1, config(T1, 3));
    await waitFor(() => seen.includes(config(T1, 3)), "T1's real change");
    expect(seen.filter((p) => p.includes('"version":99'))).toEqual([]);
  });
});

/** mosquitto_sub with its options in the order it wants them. */
function runMosquittoSub(port: number, truckId: string, topic: string, timeoutS = 20): Promise<Sub> {
  const child = spawn(
    "mosquitto_sub",
    [
      ...["-h", "127.0.0.1", "-p", String(port)],
      ...["-i", truckId, "-u", truckId, "-P", PASSWORD],
      ...["-t", topic, "-q", "1", "-C", "1", "-W", String(timeoutS)],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (c: string) => (stdout += c));
  child.stderr.on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}
