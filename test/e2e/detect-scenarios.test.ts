/**
 * The detectors on scripted trucks through the real path: `fleetsync sim scenario`'s publisher (MQTT, binary
 * protocol, QoS 1, simulated time 300x the wall clock) -> the bridge process -> Kafka -> `fleetsync detect` ->
 * the alerts topic. Each scenario's truck gives exactly the alerts its script expects and no others, the silent
 * truck's cut connection (a reset, no DISCONNECT) included.
 *
 * Publishing the records directly covers all five scenarios at once; through real agents on ptys at 20x:
 * detect-agents.test.ts (idle, siphon, dtc, geofence) and detect-silent-agents.test.ts (an agent process SIGKILLed).
 */
import { describe, expect, it } from "vitest";
import { planScenarioFleet } from "../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../sim/scenarios/scenario-run.ts";
import { readUntil, testKafka } from "../support/kafka.ts";
import { cleanupAfterAll } from "../support/cleanup.ts";
import { expectedAlertCount, startScenarioRun } from "./detect-scenario-run.ts";

const kafka = testKafka("detect-e2e");
const cleanup = cleanupAfterAll();

describe("detectors on scripted trucks through the bridge", () => {
  it("gives each scenario's expected alerts and no others", async () => {
    const trucks = planScenarioFleet({ trucks: 5, startTimeMs: Math.floor(Date.now() / 1000) * 1000, prefix: "e2e" });
    const { files, detect } = await startScenarioRun(kafka, {
      name: "detect-e2e",
      trucks,
      // Wall-clock silence, scaled like the scenario clock would not be: 6 s of nothing from an active truck.
      detectors: { silent: { minutes: 0.1, sweepIntervalMs: 250 } },
      cleanup,
    });

    const summary = await runScenarios({
      url: `mqtt://127.0.0.1:${files.port}`,
      trucks,
      speed: 300,
      password: (truckId) => `pw-${truckId}`,
    });
    expect(summary.records).toBe(trucks.reduce((n, t) => n + t.plan.records.length, 0));

    const count = expectedAlertCount(trucks);
    await readUntil(kafka, detect.alertsTopic, (r) => r.length >= count, `${count} alert changes`, 90_000);
    // No others: once every record is through the detectors, the alerts topic holds exactly these.
    await detect.caughtUp();
    await detect.expectScenarioAlerts(trucks);
  });
});
