/**
 * Load mode through the real bridge into the real Kafka, checked by verify: 10 trucks x 60 records in batches of 5
 * arrive complete and in order. Exercises the load generator, the protocol codec on the wire and verify together.
 */
import { createServer, connect as tcpConnect, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { createLoadRun } from "../../../sim/load/load-run.ts";
import { runVerify } from "../../../sim/verify/verify.ts";
import { kafkaBrokers } from "../../support/kafka.ts";
import { bridgeConfig, PASSWORD, startBridge, testTopics, type Workspace, workspace } from "../bridge/harness.ts";

const trucks = Array.from({ length: 10 }, (_, i) => `load-${i}`);
const fleet = Array.from({ length: 40 }, (_, i) => `fleet-${i}`);

/** A TCP relay to the bridge that notes each connection's source address. */
async function sourceRecorder(targetPort: number): Promise<{ port: number; sources: string[]; server: Server }> {
  const sources: string[] = [];
  const server = createServer((client) => {
    sources.push(client.remoteAddress ?? "?");
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) s.on("error", () => [client, upstream].forEach((x) => x.destroy()));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, sources, server };
}

/** A bridge of the test's own (own topics, these trucks' credentials) for the describe block it is called in. */
function bridgeForBlock(prefix: string, ids: string[]) {
  const topics = testTopics(prefix);
  const ctx = { topics, url: "" };
  let ws: Workspace | undefined;
  let bridge: Bridge | undefined;
  beforeAll(async () => {
    ws = await workspace(ids);
    ({ bridge, url: ctx.url } = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: ws.credentialsFile }),
    ));
  });
  afterAll(async () => {
    await bridge?.stop();
    await ws?.remove();
  });
  return ctx;
}

describe("sim load mode -> bridge -> Kafka -> verify", () => {
  const ctx = bridgeForBlock("sim-load", trucks);
  const { topics } = ctx;

  it("publishes every record once acknowledged, and verify finds them complete and in order", async () => {
    const run = createLoadRun({
      url: ctx.url,
      truckIds: trucks,
      password: PASSWORD,
      ratePerTruck: 100,
      batchSize: 5,
      recordsPerTruck: 60,
      rampPerSec: 100,
    });
    await run.start();
    const summary = await run.done;
    expect(summary.complete).toBe(true);
    expect(summary).toMatchObject({ recordsAcked: 600, publishesAcked: 120, publishesRefused: 0 });
    expect(summary.latencyMsP50).not.toBeNull();

    const expectMap = Object.fromEntries(Object.entries(summary.streams).map(([id, s]) => [id, s.records]));
    const verified = await runVerify({
      brokers: kafkaBrokers(),
      topic: topics.telemetry,
      expect: expectMap,
      timeoutMs: 60_000,
    });
    expect(verified.failures).toEqual([]);
    expect(verified).toMatchObject({ ok: true, totals: { trucks: 10, unique: 600, lostUnexplained: 0, reordered: 0 } });
    for (const id of trucks)
      expect(verified.trucks[id]!.streams.map((s) => s.stream)).toEqual([summary.streams[id]!.stream]);
  });
});

describe("sim load mode, the fleet's shape (issue 21)", () => {
  const ctx = bridgeForBlock("sim-fleet", fleet);
  const { topics } = ctx;

  it("several source addresses, a reconnect storm with a backlog, all drained in order", async () => {
    const relay = await sourceRecorder(Number(new URL(ctx.url).port));
    try {
      const run = createLoadRun({
        url: `mqtt://127.0.0.1:${relay.port}`,
        truckIds: fleet,
        password: PASSWORD,
        ratePerTruck: 2,
        durationS: 4,
        rampPerSec: 200,
        sourceAddresses: ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"],
        // At 2 s every truck drops and comes back at once with 20 s of records (40 each), drained 10 per publish.
        storm: { atS: 2, backlogS: 20, batchSize: 10 },
      });
      await run.start();
      const summary = await run.done;
      expect(summary.complete).toBe(true);
      expect(summary.stormDrainMs, "the storm's backlog drained").not.toBeNull();
      // Each truck connected twice (before and after the storm), from the four addresses in turn.
      expect(relay.sources.length).toBeGreaterThanOrEqual(2 * fleet.length);
      expect(new Set(relay.sources)).toEqual(new Set(["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"]));
      // 4 s at 2 records/s is 8 or 9 records per truck, plus the 40 of the backlog.
      for (const s of Object.values(summary.streams)) expect(s.records).toBeGreaterThanOrEqual(48);

      const verified = await runVerify({
        brokers: kafkaBrokers(),
        topic: topics.telemetry,
        expect: Object.fromEntries(Object.entries(summary.streams).map(([id, s]) => [id, s.records])),
        timeoutMs: 60_000,
      });
      expect(verified.failures).toEqual([]);
      expect(verified).toMatchObject({ ok: true, totals: { trucks: 40, lostUnexplained: 0, reordered: 0 } });
    } finally {
      await new Promise((resolve) => relay.server.close(resolve));
    }
  });
});
