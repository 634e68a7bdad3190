/**
 * What a connection that has not logged in may cost (issue 13.4): sockets that send most of a huge CONNECT and
 * never finish it. Each such connection may hold at most listener.maxPreLoginBytes, all of them together at most
 * listener.maxPreLoginBytesTotal; beyond that the bridge closes them or refuses new connections rather than grow.
 * Raw TCP sockets from loopback addresses against a bridge with real Aedes and the run's Kafka; a real truck
 * publishes meanwhile. (The RSS figures under the full flood: `npm run bench:prelogin`.)
 */
import { connect, type Socket } from "node:net";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { encodeTelemetry } from "../../../protocol/codec.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { deleteTopics, kafkaBrokers, testKafka } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import {
  bridgeConfig,
  closeAll,
  connectTruck,
  counterValue,
  startBridge,
  type TestTopics,
  telemetry,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";
import { connectHeader } from "../../support/mqtt-bytes.ts";

const TRUCK = "prelogin-1";

/** Opens a socket from `address` and sends a CONNECT header announcing `announced` bytes, then `sent` of them. */
function partialConnect(port: number, address: string, announced: number, sent: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: address }, () => {
      socket.write(connectHeader(announced));
      socket.write(Buffer.alloc(sent, 0x41));
      resolve(socket);
    });
    socket.on("error", () => resolve(socket));
  });
}

const closed = (socket: Socket) => socket.destroyed || socket.readyState === "closed";

describe("connections that never log in", () => {
  let space: Workspace;
  let topics: TestTopics;
  const sockets: Socket[] = [];
  const clients: MqttClient[] = [];
  const bridges: Bridge[] = [];

  beforeAll(async () => {
    space = await workspace([TRUCK]);
    topics = testTopics("prelogin");
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await closeAll(clients);
    for (const bridge of bridges) await bridge.stop();
    await deleteTopics(testKafka(), Object.values(topics));
    await space?.remove();
  });

  async function start(listener: Record<string, number>): Promise<{ bridge: Bridge; port: number }> {
    const config = bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile });
    // A long connect timeout: what closes these sockets must be the byte limits, not the missing CONNECT.
    const started = await startBridge({
      ...config,
      listener: { ...config.listener, connectTimeoutMs: 120_000, ...listener },
    });
    bridges.push(started.bridge);
    return started;
  }

  it("a connection that sends more than maxPreLoginBytes before logging in is closed; trucks carry on", async () => {
    const { bridge, port } = await start({ maxPreLoginBytes: 16_384 });
    const flood = await Promise.all(
      Array.from({ length: 20 }, (_, i) => partialConnect(port, `127.0.2.${1 + (i % 10)}`, 256_000, 100_000)),
    );
    sockets.push(...flood);
    await waitFor(() => flood.every(closed), "every flooding connection closed by the bridge", { timeoutMs: 20_000 });
    expect(
      await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "pre-login-bytes" }),
    ).toBe(20);

    const truck = await connectTruck(port, TRUCK);
    clients.push(truck);
    await truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 0)]), { qos: 1 });
  });

  it("all pre-login bytes together stay under maxPreLoginBytesTotal: further connections are refused", async () => {
    const total = 64 * 1024;
    const { bridge, port } = await start({ maxPreLoginBytes: 8_192, maxPreLoginBytesTotal: total });
    // 30 connections of 6,000 bytes each (each under its own cap), 180,000 bytes together.
    const slow: Socket[] = [];
    for (let i = 0; i < 30; i += 1) slow.push(await partialConnect(port, `127.0.3.${1 + (i % 10)}`, 10_000, 6_000));
    sockets.push(...slow);
    await waitFor(
      async () =>
        (await counterValue(bridge, "fleetsync_bridge_connections_refused_total", { reason: "pre-login-budget" })) > 0,
      "connections refused at the pre-login budget",
    );
    const held = await bridge.metrics.registry.getSingleMetric("fleetsync_bridge_prelogin_bytes")!.get();
    expect(held.values[0]!.value).toBeLessThanOrEqual(total);
    expect(held.values[0]!.value).toBeGreaterThan(total / 2);
    // Room comes back as those connections go: then a truck logs in and publishes.
    for (const socket of slow) socket.destroy();
    await waitFor(async () => {
      const metric = await bridge.metrics.registry.getSingleMetric("fleetsync_bridge_prelogin_bytes")!.get();
      return metric.values[0]!.value === 0;
    }, "the pre-login bytes released");
    const truck = await connectTruck(port, TRUCK);
    clients.push(truck);
    await truck.publishAsync(topicFor(TRUCK, "telemetry"), encodeTelemetry([telemetry(TRUCK, 1)]), { qos: 1 });
  });
});
