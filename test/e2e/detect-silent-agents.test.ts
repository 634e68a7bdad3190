/**
 * The silent-truck detector through real agent processes: two trucks drive (scripted devices on socat ptys at 20x,
 * `fleetsync agent` processes reading them, the bridge process, real Kafka, the detect service). One agent is
 * SIGKILLed mid-drive, as a cut cable or a jammer would end it: no MQTT DISCONNECT, the kernel just closes the
 * socket. The other is stopped cleanly first (SIGTERM: the agent disconnects, the bridge writes `offline` for a
 * goodbye). After the configured wall-clock silence the killed truck gets a `silent` alert and the cleanly stopped
 * one none; restarted, the killed truck is heard again and its alert closes.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { type Alert, AlertSchema } from "../../protocol/alerts.ts";
import { planScenarioFleet } from "../../sim/scenarios/fleet.ts";
import { readToEnd, testKafka } from "../support/kafka.ts";
import { cleanupAfterAll } from "../support/cleanup.ts";
import { waitFor } from "../support/wait.ts";
import { type AgentPlan, type AgentProcess, spawnAgent, writeAgentConfig } from "./agents.ts";
import { scenarioAgentOverrides, startScenarioRun, startScenarioDevices } from "./detect-scenario-run.ts";

const SCALE = 20;
/** Wall-clock silence that opens the alert: 15 s, long against a sweep (250 ms), short for a test. */
const SILENT_MINUTES = 0.25;
const kafka = testKafka("detect-silent-e2e");
const cleanup = cleanupAfterAll();

describe("silent truck through real agent processes", () => {
  it("alerts for the truck killed mid-drive, not for the one that said goodbye, and closes when it is heard", async () => {
    const startTimeMs = Math.floor(Date.now() / 1000) * 1000;
    // Both drive the silent scenario's road (70 km/h for 33 simulated minutes: the devices keep going, the cut is
    // this test's SIGKILL).
    const [cut, goodbye] = planScenarioFleet({ trucks: 2, startTimeMs, prefix: "sil", names: ["silent"] });
    const trucks = [cut!, goodbye!];
    const { dir, topics, files, detect } = await startScenarioRun(kafka, {
      name: "detect-silent",
      trucks,
      detectors: { silent: { minutes: SILENT_MINUTES, sweepIntervalMs: 250 } },
      cleanup,
    });

    const devices = await startScenarioDevices(join(dir, "dev"), trucks, { startTimeMs, scale: SCALE }, cleanup);

    const plans = new Map<string, { plan: AgentPlan; file: string }>();
    const running = new Map<string, AgentProcess>();
    for (const device of devices.devices()) {
      const plan: AgentPlan = {
        truckId: device.truckId,
        device,
        brokerUrl: `mqtt://127.0.0.1:${files.port}`,
        password: `pw-${device.truckId}`,
        dir: join(dir, "agents", device.truckId),
        metricsPort: await freePort(),
        overrides: scenarioAgentOverrides(SCALE),
      };
      plans.set(device.truckId, { plan, file: await writeAgentConfig(plan) });
    }
    const start = (truckId: string) => {
      const { plan, file } = plans.get(truckId)!;
      const agent = spawnAgent(file, plan.metricsPort!);
      running.set(truckId, agent);
      cleanup.push(() => agent.kill("SIGKILL"));
      return agent;
    };
    const acked = async (agent: AgentProcess) => (await agent.scrape().catch(() => undefined))?.acked.telemetry ?? 0;
    const alerts = async (): Promise<Alert[]> =>
      (await readToEnd(kafka, detect.alertsTopic)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
    const statuses = async (truckId: string) =>
      (await readToEnd(kafka, topics.status))
        .filter((r) => r.key === truckId)
        .map((r) => JSON.parse(r.value!) as { state: string; reason?: string });

    const cutAgent = start(cut!.truckId);
    const goodbyeAgent = start(goodbye!.truckId);
    // Both are driving and in Kafka: a few moving records each (10 s of simulated time apart: half a wall second).
    await waitFor(
      async () => (await acked(cutAgent)) >= 5 && (await acked(goodbyeAgent)) >= 5,
      "both trucks' first records in Kafka",
      { timeoutMs: 90_000, intervalMs: 200 },
    );

    // The clean stop first, so that when the killed truck's silence is over the limit, this one's is too.
    await goodbyeAgent.stop();
    await waitFor(
      async () => (await statuses(goodbye!.truckId)).at(-1)?.state === "offline",
      "the goodbye truck's offline status",
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await waitFor(async () => (await acked(cutAgent)) >= 10, "the cut truck still driving", {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await cutAgent.kill("SIGKILL");
    const killedAt = Date.now();

    const opened = await waitFor(
      async () => (await alerts()).find((a) => a.truckId === cut!.truckId && a.detector === "silent"),
      "the killed truck's silent alert",
      { timeoutMs: SILENT_MINUTES * 60_000 + 60_000, intervalMs: 500 },
    ).catch(async (error: Error) => {
      // What the bridge said about the truck's end, and the alerts so far: where the path stopped.
      throw new Error(
        `${error.message}\nstatus: ${JSON.stringify(await statuses(cut!.truckId))}\nalerts: ${JSON.stringify(await alerts())}`,
      );
    });
    const silentForMs = Date.now() - killedAt;
    expect(opened.state).toBe("opened");
    // Not before the configured wall-clock silence (the alert is measured from the last record's Kafka time, which
    // is before the kill).
    expect(silentForMs).toBeGreaterThanOrEqual(SILENT_MINUTES * 60_000 - 2_000);
    // The bridge saw a loss, not a goodbye, and the goodbye truck was silent longer and got no alert.
    expect((await statuses(cut!.truckId)).at(-1)).toMatchObject({ state: "offline" });
    expect((await statuses(cut!.truckId)).at(-1)?.reason).not.toBe("disconnected");
    expect((await statuses(goodbye!.truckId)).at(-1)).toEqual(
      expect.objectContaining({ state: "offline", reason: "disconnected" }),
    );
    expect((await alerts()).filter((a) => a.truckId === goodbye!.truckId)).toEqual([]);

    // Heard again: the restarted agent sends what its outbox kept and new records; the first one closes the alert.
    start(cut!.truckId);
    const closed = await waitFor(
      async () => (await alerts()).find((a) => a.id === opened.id && a.state === "closed"),
      "the silent alert to close",
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(closed.version).toBe(1);
    expect(closed.evidence.silentMs).toBeGreaterThanOrEqual(SILENT_MINUTES * 60_000);

    // Everything read, and the alerts are exactly these two changes.
    await running.get(cut!.truckId)!.stop();
    await detect.caughtUp();
    expect((await alerts()).map((a) => `${a.truckId} ${a.detector}:${a.state}`)).toEqual([
      `${cut!.truckId} silent:opened`,
      `${cut!.truckId} silent:closed`,
    ]);
  }, 300_000);
});
