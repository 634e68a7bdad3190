/**
 * Fault: power cut (SIGKILL of the agent process) while its outbox thins (issue 20, whenFull thin-then-drop). The
 * bridge is down, the truck records at 200x simulated time into a 256 KiB budget, so the outbox runs a thinning pass
 * (read back a simulated minute of telemetry, then one batch: deletes, thinned event, watermark) every few commits.
 * The agent is killed three times in the middle of that, at whatever point a pass is in (the kill lands at a random
 * phase of the passes: reading, choosing, writing, or between two). Each restart must find its outbox consistent
 * (no hole outside the thinned ranges, no warning about one), and at the end, with the bridge up, the verifier
 * must find nothing kept lost, every thinned record in exactly one announced range (its holes equal its count), no
 * range announced twice or overlapping another, and every event delivered.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { EventRecord } from "../../protocol/index.ts";
import { readUntil, testKafka } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type AgentProcess, drainWithoutSources, spawnAgent, writeAgentConfig } from "../e2e/agents.ts";
import { verifyChannels } from "../e2e/fleet.ts";
import { expectNoLossNoReorder, type OneTruckRun, startOneTruckRun } from "./support.ts";

const TRUCK = "f-thinkill-1";
const PASSWORD = "e2e-secret-thin-kill";
const TIME_SCALE = 200;
const KILLS = 3;

describe("fault: agent SIGKILL while its outbox thins", () => {
  let run: OneTruckRun | undefined;
  afterAll(async () => {
    await run?.stop();
  });

  it("restarts consistent: nothing kept lost, every thinned range announced once", async () => {
    run = await startOneTruckRun({
      name: "f-thinkill",
      truckId: TRUCK,
      password: PASSWORD,
      device: { can: "slcan", nmeaHz: 1, timeScale: TIME_SCALE, tickMs: 1_000 / TIME_SCALE },
      overrides: {
        clock: { timeScale: TIME_SCALE },
        sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000, minIntervalMs: 0, tickMs: 20 },
        state: { gnssMaxJumpMs: 10_000 * TIME_SCALE },
        outbox: { maxBytes: 256 * 1024, whenFull: "thin-then-drop", thinWindowS: 60, thinKeepEveryS: 10 },
      },
    });
    const { brokers, topics, metricsPort, plan, agents } = run;
    const configFile = await writeAgentConfig(plan);
    const scrape = (a: AgentProcess) => a.scrape().catch(() => undefined);

    // 1. The bridge is down: each agent process records until its outbox has thinned a few windows, then is killed.
    for (let k = 0; k < KILLS; k++) {
      const agent = spawnAgent(configFile, metricsPort);
      agents.push(agent);
      await waitFor(() => agent.started(), `agent ${k + 1} started`, { timeoutMs: 60_000, intervalMs: 20 });
      // Recovery below the watermark: the holes thinning left are expected, not reported.
      expect(agent.logTail(), `agent ${k + 1}'s start`).not.toContain("hole in stored seqs");
      const at = await waitFor(
        async () => {
          const g = await scrape(agent);
          return g && g.thinned.telemetry >= 300 ? g : undefined;
        },
        `agent ${k + 1} thinning (300 records thinned since its start)`,
        { timeoutMs: 90_000, intervalMs: 7 },
      );
      await agent.kill("SIGKILL");
      process.stdout.write(
        `thinning SIGKILL ${k + 1}: ${at.thinned.telemetry} thinned, ${at.dropped.telemetry} dropped, ` +
          `next seq ${at.next.telemetry}, ${at.waiting.telemetry} waiting\n`,
      );
    }

    // 2. The bridge comes up; an agent with no sources (it makes no telemetry) drains what the kills left.
    await run.startBridge();
    const next = await drainWithoutSources({ ...plan, metricsPort }, (drain) => agents.push(drain), 90_000);

    // 3. The verifier: kept + thinned + dropped = produced, nothing unexplained, every range's holes = its count.
    const { telemetry, events } = await verifyChannels({
      brokers,
      topics,
      expected: { [TRUCK]: next },
      timeoutMs: 60_000,
    });
    expectNoLossNoReorder("agent SIGKILL while thinning", { telemetry, events }, { announcedLossAllowed: true });
    const t = telemetry.trucks[TRUCK]!;
    process.stdout.write(
      `thinning SIGKILL: accounting kept ${t.accounting.kept} + thinned ${t.accounting.thinned} + dropped ` +
        `${t.accounting.dropped} = produced ${t.accounting.produced}; ${telemetry.announcedThinned} thinned ranges\n`,
    );
    // Each killed agent thinned 300+ records. The drain agent starts on a store at its budget with only the open
    // window left to thin, and drops (announced, the policy's second half): a gap over a thinned range counts its
    // holes as dropped, so thinned alone may come out lower.
    expect(t.accounting.thinned).toBeGreaterThan(0);
    expect(t.accounting.thinned + t.accounting.dropped).toBeGreaterThanOrEqual(KILLS * 300);
    expect(telemetry.announcedThinned).toBeGreaterThanOrEqual(KILLS);
    expect(t.accounting.unexplained).toBe(0);
    expect(t.streams).toHaveLength(1);
    // Every event arrived: none was ever dropped or thinned.
    expect(events.totals.unique).toBe(next.events);
    expect(events.totals.lostAnnounced).toBe(0);

    // 4. No range announced twice: the thinned events (each once, by its own seq) cover disjoint, rising ranges.
    const records = await readUntil(
      testKafka("thin-kill"),
      topics.events,
      (rs) => rs.length >= next.events,
      "every event",
      30_000,
    );
    const bySeq = new Map<number, Extract<EventRecord, { type: "thinned" }>>();
    for (const r of records) {
      const e = JSON.parse(r.value!) as EventRecord;
      if (e.type === "thinned") bySeq.set(e.seq, e);
    }
    const ranges = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    expect(ranges.length).toBe(telemetry.announcedThinned);
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i]!.fromSeq, `range ${i} starts after range ${i - 1}`).toBeGreaterThan(ranges[i - 1]!.toSeq);
    }
  });
});
