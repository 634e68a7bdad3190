/**
 * Load mode through the real bridge into the real Kafka, checked by verify: 10 trucks x 60 records in batches of 5
 * arrive complete and in order. Exercises the load generator, the protocol codec on the wire and verify together.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../../bridge/bridge.ts";
import { createLoadRun } from "../../../sim/load/load-run.ts";
import { runVerify } from "../../../sim/verify/verify.ts";
import { kafkaBrokers } from "../../support/kafka.ts";
import { bridgeConfig, PASSWORD, startBridge, testTopics, type Workspace, workspace } from "../bridge/harness.ts";

const trucks = Array.from({ length: 10 }, (_, i) => `load-${i}`);

describe("sim load mode -> bridge -> Kafka -> verify", () => {
  const topics = testTopics("sim-load");
  let ws: Workspace;
  let bridge: Bridge;
  let url: string;

  beforeAll(async () => {
    ws = await workspace(trucks);
    ({ bridge, url } = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: ws.credentialsFile }),
    ));
  });

  afterAll(async () => {
    await bridge?.stop();
    await ws?.remove();
  });

  it("publishes every record once acknowledged, and verify finds them complete and in order", async () => {
    const run = createLoadRun({
      url,
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
