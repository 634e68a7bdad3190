/**
 * Fault: the outbox's disk budget fills while the bridge is unreachable (design promise 4: bounded, drop-oldest,
 * never silently). The agents drop their oldest records and announce each dropped range with a gap event; the
 * verifier must count exactly those as announced loss, and nothing as unexplained loss.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type FleetRun, startFleetRun } from "../e2e/fleet.ts";
import { expectNoLossNoReorder } from "./support.ts";

describe("fault: outbox overflow while the bridge is down", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it("drops the oldest records, announces every dropped range, and delivers the rest in order", async () => {
    run = await startFleetRun({
      name: "f-overflow",
      brokers: kafkaBrokers(),
      trucks: 3,
      bridgeUp: false,
      agent: {
        // The smallest budget the schema allows (64 KiB: a few hundred records); a record every 10 ms.
        outbox: { maxBytes: 65_536, dropToFraction: 0.5, commitIntervalMs: 50 },
        sampler: { movingPeriodMs: 0, parkedPeriodMs: 0, minIntervalMs: 0, tickMs: 10 },
      },
    });
    const r = run;
    await waitFor(
      () => r.agents.every((a) => a.agent.outbox.stats().channels.telemetry.dropped >= 500),
      "500 telemetry records dropped on every truck",
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await r.startBridge();
    const result = await r.finish();
    expectNoLossNoReorder("outbox overflow", result, { announcedLossAllowed: true });
    for (const a of r.agents) {
      const dropped = a.agent.outbox.stats().channels.telemetry.dropped;
      const report = result.telemetry.trucks[a.truckId]!;
      // Every dropped record is announced, and only those: the verifier's announced loss is the agent's count.
      expect(report.lostAnnounced, a.truckId).toBe(dropped);
      expect(report.lostUnexplained, a.truckId).toBe(0);
      expect(report.unique + report.lostAnnounced, a.truckId).toBe(result.made[a.truckId]!.telemetry);
    }
    expect(result.telemetry.announcedGaps).toBeGreaterThanOrEqual(3);
  });
});
