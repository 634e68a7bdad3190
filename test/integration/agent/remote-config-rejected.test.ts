/**
 * A desired config whose pipeline does not start is rejected once, not again on every connection. The bridge
 * answers every SUBSCRIBE to the truck's config topic with the desired config, so on a flaky cellular link (and on
 * the fallback agent's own first connection) the same rejected config keeps arriving; trying it again each time
 * meant a failing pipeline restart per connect. Real parts: a real Aedes broker over TCP holding the desired config
 * as a retained message (delivered on every subscribe, as the bridge does), real agents with their LevelDB outbox,
 * a real EADDRINUSE.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createAgent } from "../../../agent/agent.ts";
import { parseAgentConfig } from "../../../agent/config.ts";
import { type AgentHost, createAgentHost } from "../../../agent/remote-config/index.ts";
import { topicFor } from "../../../protocol/index.ts";
import { holdPort } from "../../support/held-port.ts";
import { waitFor } from "../../support/wait.ts";

const TRUCK = "TRK-rejected-1";
const CONFIG_TOPIC = topicFor(TRUCK, "config");
const FAILING_BUDGET = 4 * 1024 * 1024;

/** Aedes on a TCP port; `drop()` cuts every connection (the link goes away) and keeps the retained config. */
async function startConfigBroker() {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  // Deliveries the truck acknowledged (the config is the only thing this broker sends it). MQTT.js hands the payload
  // to the agent's handler before it sends the PUBACK, so after an ack the host has the payload.
  let delivered = 0;
  aedes.on("ack", () => delivered++);
  return {
    port: (server.address() as { port: number }).port,
    delivered: () => delivered,
    connections: () => sockets.size,
    setDesired: (value: object) =>
      new Promise<void>((resolve, reject) =>
        aedes.publish(
          {
            cmd: "publish",
            topic: CONFIG_TOPIC,
            payload: Buffer.from(JSON.stringify({ truckId: TRUCK, ...value })),
            qos: 1,
            retain: true,
            dup: false,
          },
          (error) => (error ? reject(error) : resolve()),
        ),
      ),
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

describe("agent host: a rejected desired config is not tried again on every connect", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("rejects it once, keeps reporting it across reconnects, and tries the next desired config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fleetsync-rejected-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const held = await holdPort();
    cleanups.push(() => held.release());
    const broker = await startConfigBroker();
    cleanups.push(() => broker.close());

    // Every pipeline started with the failing budget meets its metrics port taken (a real EADDRINUSE), each time.
    const started: number[] = [];
    const make: typeof createAgent = (config, deps) => {
      started.push(config.outbox.maxBytes);
      if (config.outbox.maxBytes !== FAILING_BUDGET) return createAgent(config, deps);
      const taken = { ...config.metrics, enabled: true, host: "127.0.0.1", port: held.port };
      return createAgent({ ...config, metrics: taken }, deps);
    };
    const local = parseAgentConfig({
      truckId: TRUCK,
      // Plain Aedes speaks MQTT 3.1.1 (the bridge adapts MQTT 5 in front of it).
      broker: { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 4, reconnectMinMs: 50, reconnectMaxMs: 200 },
      outbox: { dir: join(dir, "outbox"), maxBytes: 8 * 1024 * 1024, ballastBytes: 0 },
      metrics: { enabled: false },
    });
    await broker.setDesired({ version: 2, outbox: { maxBytes: FAILING_BUDGET } });
    const logger = pino({ level: "info" }, pino.destination("/dev/null"));
    const host: AgentHost = await createAgentHost(local, { version: "test", logger, createAgent: make });
    cleanups.push(() => host.stop());
    await host.start();

    // The first connection gets v2: one failing restart, back on the local file, the rejection reported.
    await waitFor(() => broker.delivered() >= 1, "v2 delivered on the first connection");
    await host.whenSettled();
    expect(started).toEqual([local.outbox.maxBytes, FAILING_BUDGET, local.outbox.maxBytes]);
    const rejection = {
      appliedConfigVersion: 0,
      configRejected: { version: 2, reason: expect.stringMatching(/^pipeline did not start with it: metrics\.port:/) },
    };
    expect(host.report()).toMatchObject(rejection);
    const rejectedAt = host.report().configRejected?.at;

    // The fallback agent's own connection, then two more after the link is cut, get v2 again: no restart.
    for (let connection = 2; connection <= 4; connection++) {
      if (connection > 2) {
        await waitFor(() => broker.connections() > 0, "the agent connected");
        broker.drop();
      }
      await waitFor(() => broker.delivered() >= connection, `v2 delivered on connection ${connection}`);
      await host.whenSettled();
      expect(started).toHaveLength(3);
      expect(host.report()).toMatchObject(rejection);
      expect(host.report().configRejected?.at).toBe(rejectedAt);
    }
    // An agent runs: its outbox is open (a stopped one refuses reads).
    await expect(host.agent().outbox.read("telemetry", 0, 1, { peek: true })).resolves.toEqual([]);

    // A new desired config is tried (and this one starts).
    const before = broker.delivered();
    await broker.setDesired({ version: 3, outbox: { maxBytes: 6 * 1024 * 1024 } });
    await waitFor(() => broker.delivered() > before, "v3 delivered");
    await host.whenSettled();
    expect(started).toEqual([local.outbox.maxBytes, FAILING_BUDGET, local.outbox.maxBytes, 6 * 1024 * 1024]);
    expect(host.report()).toEqual({ appliedConfigVersion: 3 });
  });
});
