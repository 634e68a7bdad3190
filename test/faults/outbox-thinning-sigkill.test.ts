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
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import type { EventRecord } from "../../protocol/index.ts";
import { createDeviceFleet, type DeviceFleet, runVerify } from "../../sim/index.ts";
import { kafkaBrokers, readUntil, testKafka } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type AgentPlan, type AgentProcess, spawnAgent, writeAgentConfig } from "../e2e/agents.ts";
import { type BridgeProcess, spawnBridge, writeBridgeFiles } from "../e2e/bridge.ts";
import { runTopics } from "../e2e/kafka.ts";
import { expectNoLossNoReorder } from "./support.ts";

const TRUCK = "f-thinkill-1";
const PASSWORD = "e2e-secret-thin-kill";
const TIME_SCALE = 200;
const KILLS = 3;

describe("fault: agent SIGKILL while its outbox thins", () => {
  let dir: string;
  let devices: DeviceFleet | undefined;
  let bridge: BridgeProcess | undefined;
  const agents: AgentProcess[] = [];
  afterAll(async () => {
    for (const a of agents) await a.kill("SIGKILL");
    await bridge?.stop();
    await devices?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("restarts consistent: nothing kept lost, every thinned range announced once", async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-fault-thinkill-"));
    const brokers = kafkaBrokers();
    const topics = runTopics("f-thinkill");
    devices = createDeviceFleet({
      dir: join(dir, "dev"),
      trucks: [{ truckId: TRUCK, can: "slcan", nmeaHz: 1 }],
      timeScale: TIME_SCALE,
      tickMs: 1_000 / TIME_SCALE,
    });
    await devices.start();
    const files = await writeBridgeFiles({ dir, brokers, topics, trucks: { [TRUCK]: PASSWORD } });
    const metricsPort = await freePort();
    const plan: AgentPlan = {
      truckId: TRUCK,
      device: devices.devices()[0]!,
      brokerUrl: `mqtt://127.0.0.1:${files.port}`,
      password: PASSWORD,
      dir: join(dir, "agent"),
      metricsPort,
      overrides: {
        clock: { timeScale: TIME_SCALE },
        sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000, minIntervalMs: 0, tickMs: 20 },
        state: { gnssMaxJumpMs: 10_000 * TIME_SCALE },
        outbox: { maxBytes: 256 * 1024, whenFull: "thin-then-drop", thinWindowS: 60, thinKeepEveryS: 10 },
      },
    };
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
    bridge = await spawnBridge(files.configFile);
    const drainFile = await writeAgentConfig({ ...plan, device: { ...plan.device, gps: null, can: null } });
    const drain = spawnAgent(drainFile, metricsPort);
    agents.push(drain);
    await waitFor(() => drain.started(), "the drain agent started", { timeoutMs: 60_000, intervalMs: 20 });
    expect(drain.logTail()).not.toContain("hole in stored seqs");
    const final = await waitFor(
      async () => {
        const g = await scrape(drain);
        return g && g.waiting.telemetry === 0 && g.waiting.events === 0 ? g : undefined;
      },
      "every outbox record acknowledged",
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    await drain.stop();

    // 3. The verifier: kept + thinned + dropped = produced, nothing unexplained, every range's holes = its count.
    const verify = (channel: "telemetry" | "events") =>
      runVerify({
        brokers,
        topic: channel === "telemetry" ? topics.telemetry : topics.events,
        eventsTopic: topics.events,
        channel,
        expect: { [TRUCK]: final.next[channel] },
        timeoutMs: 60_000,
      });
    const [telemetry, events] = await Promise.all([verify("telemetry"), verify("events")]);
    expectNoLossNoReorder("agent SIGKILL while thinning", { telemetry, events }, { announcedLossAllowed: true });
    const t = telemetry.trucks[TRUCK]!;
    process.stdout.write(
      `thinning SIGKILL: accounting kept ${t.accounting.kept} + thinned ${t.accounting.thinned} + dropped ` +
        `${t.accounting.dropped} = produced ${t.accounting.produced}; ${telemetry.announcedThinned} thinned ranges\n`,
    );
    expect(t.accounting.thinned).toBeGreaterThanOrEqual(KILLS * 300);
    expect(t.accounting.unexplained).toBe(0);
    expect(t.streams).toHaveLength(1);
    // Every event arrived: none was ever dropped or thinned.
    expect(events.totals.unique).toBe(final.next.events);
    expect(events.totals.lostAnnounced).toBe(0);

    // 4. No range announced twice: the thinned events (each once, by its own seq) cover disjoint, rising ranges.
    const records = await readUntil(
      testKafka("thin-kill"),
      topics.events,
      (rs) => rs.length >= final.next.events,
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
