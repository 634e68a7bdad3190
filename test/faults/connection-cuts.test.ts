/**
 * Fault: the links between agents and bridge are cut at random (a TCP proxy in this process destroys connections at
 * random moments, with publishes and PUBACKs in flight), for 20 s, while every truck keeps recording.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { type FleetRun, startFleetRun } from "../e2e/fleet.ts";
import { type CuttingProxy, startCuttingProxy } from "./proxy.ts";
import { expectNoLossNoReorder, sleep } from "./support.ts";

const SEED = process.env.FAULT_SEED ?? "connection-cuts";

describe("fault: connections between agents and bridge cut at random", () => {
  let run: FleetRun | undefined;
  let proxy: CuttingProxy | undefined;
  afterAll(async () => {
    await run?.close();
    await proxy?.close();
  });

  it("loses nothing and keeps order; duplicates from resends are reported", async () => {
    run = await startFleetRun({
      name: "f-cuts",
      brokers: kafkaBrokers(),
      trucks: 8,
      // Agents dial the proxy, the proxy dials the bridge.
      agentUrl: async (bridgePort) => {
        proxy = await startCuttingProxy(bridgePort, SEED);
        return `mqtt://127.0.0.1:${proxy.port}`;
      },
    });
    const r = run;
    await r.waitAcked(50);
    proxy!.startCutting({ minMs: 150, maxMs: 1_500, p: 0.5 });
    await sleep(20_000);
    proxy!.stopCutting();
    const stats = proxy!.stats();
    process.stdout.write(`connection cuts (seed ${SEED}): ${JSON.stringify(stats)}\n`);
    expect(stats.cut).toBeGreaterThanOrEqual(20);
    const result = await r.finish();
    expectNoLossNoReorder("random connection cuts", result);
    for (const a of r.agents) expect(a.agent.uplink.stats().disconnects, a.truckId).toBeGreaterThan(0);
  });
});
