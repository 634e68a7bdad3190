/**
 * Fault: the agent process (`fleetsync agent`) is killed with SIGKILL while it drains a backlog: batches are in
 * flight, PUBACKs arrive, acknowledgements are being committed. After a restart it must resume from what the outbox
 * on disk says, never reuse a seq, and lose nothing; resent batches may duplicate, never reorder.
 */
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.ts";
import {
  type AgentGauges,
  type AgentProcess,
  drainWithoutSources,
  spawnAgent,
  writeAgentConfig,
} from "../e2e/agents.ts";
import { verifyChannels } from "../e2e/fleet.ts";
import { expectNoLossNoReorder, type OneTruckRun, startOneTruckRun } from "./support.ts";

const TRUCK = "f-agentkill-1";
const PASSWORD = "e2e-secret-agent-kill";

describe("fault: agent SIGKILL during a backlog drain", () => {
  let run: OneTruckRun | undefined;
  afterAll(async () => {
    await run?.stop();
  });

  it("resumes from the outbox on disk after the kill: nothing lost, no seq reused", async () => {
    run = await startOneTruckRun({
      name: "f-agentkill",
      truckId: TRUCK,
      password: PASSWORD,
      device: { can: "slcan", nmeaHz: 5 },
      overrides: {
        // A record every 10 ms; small batches, one in flight: the drain takes hundreds of round trips.
        sampler: { movingPeriodMs: 0, parkedPeriodMs: 0, minIntervalMs: 0, tickMs: 10 },
        broker: { maxBatchRecords: 5, inflightBatches: 1 },
      },
    });
    const { brokers, topics, metricsPort, plan, agents } = run;
    const configFile = await writeAgentConfig(plan);
    const scrape = async (a: AgentProcess): Promise<AgentGauges | undefined> => a.scrape().catch(() => undefined);

    // 1. The bridge is not running yet: the agent records a backlog of 1,000 records.
    const first = spawnAgent(configFile, metricsPort);
    agents.push(first);
    await waitFor(async () => ((await scrape(first))?.next.telemetry ?? 0) >= 1_000, "a backlog of 1,000 records", {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    // 2. The bridge comes up; the drain starts; SIGKILL once 100 records are acknowledged.
    await run.startBridge();
    const atKill = await waitFor(
      async () => {
        const g = await scrape(first);
        return g && g.acked.telemetry >= 100 ? g : undefined;
      },
      "100 records of the backlog acknowledged",
      { timeoutMs: 60_000, intervalMs: 10 },
    );
    await first.kill("SIGKILL");
    process.stdout.write(`agent SIGKILL: ${atKill.acked.telemetry} acknowledged of ${atKill.next.telemetry} made\n`);
    expect(atKill.waiting.telemetry, "a backlog was still draining at the kill").toBeGreaterThan(300);

    // 3. Restarted, the agent drains the rest and keeps recording.
    const second = spawnAgent(configFile, metricsPort);
    agents.push(second);
    await waitFor(
      async () => {
        const g = await scrape(second);
        return g !== undefined && g.next.telemetry > atKill.next.telemetry + 300 && g.waiting.telemetry < 50;
      },
      "the backlog drained after the restart",
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    await second.stop();

    // 4. The end of the run: an agent with no sources (so it makes no telemetry) drains what is left and says how
    //    many records the outbox ever gave a seq.
    const next = await drainWithoutSources({ ...plan, metricsPort }, (drain) => agents.push(drain));
    const { telemetry, events } = await verifyChannels({
      brokers,
      topics,
      expected: { [TRUCK]: next },
      timeoutMs: 60_000,
    });
    expectNoLossNoReorder("agent SIGKILL during drain", { telemetry, events });
    expect(telemetry.totals.unique).toBe(next.telemetry);
    expect(telemetry.trucks[TRUCK]!.streams).toHaveLength(1);
    // Three starts (first, second, drain): three start events, seqs never reused.
    expect(events.totals.unique).toBe(next.events);
  });
});
