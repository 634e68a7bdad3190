/**
 * Fault: the bridge process is killed with SIGKILL while trucks stream (no graceful stop: in-flight batches, PUBACKs
 * and Aedes sessions vanish), stays down while the agents buffer, and is started again on the same port.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type FleetRun, startFleetRun } from "../e2e/fleet.ts";
import { expectNoLossNoReorder } from "./support.ts";

describe("fault: bridge SIGKILL and restart", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it("loses nothing: the agents keep records until the restarted bridge has them in Kafka", async () => {
    run = await startFleetRun({ name: "f-bridgekill", brokers: kafkaBrokers(), trucks: 6 });
    const r = run;
    await r.waitAcked(150);
    await r.bridge()!.kill("SIGKILL");
    // While the bridge is down the trucks keep recording: every outbox holds a backlog.
    await waitFor(() => r.agents.every((a) => a.depth() >= 100), "a backlog of 100 records on every truck", {
      timeoutMs: 30_000,
    });
    const ackedWhileDown = r.agents.map((a) => a.acked().telemetry);
    await r.startBridge();
    await r.waitAcked(Math.max(...ackedWhileDown) + 150);
    const result = await r.finish();
    expectNoLossNoReorder("bridge SIGKILL", result);
    for (const a of r.agents) expect(a.agent.uplink.stats().connects, a.truckId).toBeGreaterThanOrEqual(2);
  });
});
