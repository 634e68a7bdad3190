/**
 * The detectors on scripted trucks through the real agents: each scenario drives a truck's simulated devices (NMEA
 * and J1939 on socat ptys, sim/scenarios/scripted-devices.ts) on a clock 20x the wall clock; real agents read them
 * with `clock.timeScale: 20` (serial sources, state, sampler, LevelDB outbox, MQTT uplink), the bridge process puts
 * the records into Kafka and the detect service gives alerts. Each truck gives exactly its scenario's expected alerts
 * and no others.
 *
 * Which scenarios: idle, siphon, dtc and geofence. siphon is what a real J1939 bus gives: no fuel level while the
 * ignition is off, so the drop shows as the level at the next start against the level at the stop. silent needs its
 * agent process killed mid-drive: detect-silent-agents.test.ts.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planScenarioFleet } from "../../sim/scenarios/fleet.ts";
import { readToEnd, readUntil, testKafka } from "../support/kafka.ts";
import { cleanupAfterAll } from "../support/cleanup.ts";
import { waitFor } from "../support/wait.ts";
import { type InProcessAgent, startInProcessAgent } from "./agents.ts";
import {
  expectedAlertCount,
  scenarioAgentOverrides,
  startScenarioRun,
  startScenarioDevices,
} from "./detect-scenario-run.ts";

const SCALE = 20;
const kafka = testKafka("detect-agents-e2e");
const cleanup = cleanupAfterAll();

describe("detectors on scripted trucks through real agents", () => {
  it("gives each scenario's expected alerts and no others", async () => {
    const startTimeMs = Math.floor(Date.now() / 1000) * 1000;
    const trucks = planScenarioFleet({
      trucks: 4,
      startTimeMs,
      prefix: "agt",
      names: ["idle", "siphon", "dtc", "geofence"],
    });
    const { dir, files, detect } = await startScenarioRun(kafka, { name: "detect-agents", trucks, cleanup });

    // Devices first (the agents open their ptys), then the agents; the scripts start when the devices do.
    const devices = await startScenarioDevices(join(dir, "dev"), trucks, { startTimeMs, scale: SCALE }, cleanup);
    const agents: InProcessAgent[] = [];
    for (const device of devices.devices()) {
      const agent = await startInProcessAgent({
        truckId: device.truckId,
        device,
        brokerUrl: `mqtt://127.0.0.1:${files.port}`,
        password: `pw-${device.truckId}`,
        dir: join(dir, "agents", device.truckId),
        overrides: scenarioAgentOverrides(SCALE),
      });
      agents.push(agent);
      cleanup.push(() => agent.stop());
    }

    const count = expectedAlertCount(trucks);
    const longestMs = Math.max(...trucks.map((t) => t.plan.durationMs));
    await readUntil(
      kafka,
      detect.alertsTopic,
      (r) => r.length >= count,
      `${count} alert changes`,
      longestMs / SCALE + 60_000,
    ).catch(async (error: Error) => {
      // What each truck's agent made and the alerts so far: where the path stopped.
      const so = await readToEnd(kafka, detect.alertsTopic)
        .then((rs) => rs.map((r) => r.value).join("\n"))
        .catch((e: Error) => e.message);
      const made = agents.map((a) => ({
        truckId: a.truckId,
        made: a.made(),
        acked: a.acked(),
        now: a.agent.state.now(),
        gnss: a.agent.state.gnssTime(),
        engine: a.agent.state.engine(),
        gps: a.agent.state.gps(),
      }));
      throw new Error(
        `${error.message}\nagents: ${JSON.stringify(made)}\nalerts: ${so}\ndevices: ${JSON.stringify(devices.stats())}`,
      );
    });
    // No others: the scripts are over (plus a simulated minute parked), every record the agents made is in Kafka,
    // and the detectors have read it all.
    await waitFor(() => devices.stats().every((s) => s.nmeaEpochs * 1000 >= longestMs + 60_000), "the scripts to end", {
      timeoutMs: longestMs / SCALE + 60_000,
    });
    const made = await Promise.all(agents.map((a) => a.quiesce()));
    await waitFor(() => agents.every((a) => a.depth() === 0), "the agents to drain", { timeoutMs: 60_000 });
    await detect.caughtUp();
    for (const [i, a] of agents.entries()) {
      // The agents made the records (the scenario's cadence, not the device rate), on GNSS time throughout.
      expect(made[i]!.telemetry, a.truckId).toBeGreaterThan(20);
      expect(a.agent.state.gnssTime().refused.jump, a.truckId).toBe(0);
    }
    await detect.expectScenarioAlerts(trucks);
  }, 300_000);
});
