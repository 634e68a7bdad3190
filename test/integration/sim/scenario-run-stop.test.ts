/**
 * A scripted-truck run ends when asked, not when its scenario's simulated time runs out: the demo awaits it on
 * Ctrl-C, which waited out the idle truck's 30 s before. The broker is mosquitto (a real MQTT 5 broker).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { planScenarioFleet } from "../../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../../sim/scenarios/scenario-run.ts";
import { waitFor } from "../../support/wait.ts";

describe("scripted trucks: runScenarios with an abort signal", () => {
  let mosquitto: ChildProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    // No configuration file: mosquitto 2 listens on loopback only and lets anonymous clients in.
    mosquitto = spawn("mosquitto", ["-p", String(port)], { stdio: "ignore" });
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = spawn("mosquitto_pub", ["-p", String(port), "-t", "probe", "-m", "x"], { stdio: "ignore" });
          probe.on("exit", (code) => resolve(code === 0));
        }),
      "mosquitto to accept connections",
    );
  });

  afterAll(async () => {
    if (mosquitto.exitCode !== null || mosquitto.signalCode !== null) return;
    mosquitto.kill("SIGTERM");
    await new Promise((resolve) => mosquitto.once("exit", resolve));
  });

  it("stops publishing and resolves once aborted, long before the scenario's end", async () => {
    // The idle scenario at real time: 30 minutes of records, one every few simulated seconds.
    const trucks = planScenarioFleet({ trucks: 1, names: ["idle"], prefix: "STOP", startTimeMs: Date.now() });
    const stop = new AbortController();
    let published = 0;
    const run = runScenarios({
      url: `mqtt://127.0.0.1:${port}`,
      trucks,
      speed: 1,
      signal: stop.signal,
      onRecord: () => (published += 1),
    });
    await waitFor(() => published > 0, "the first record published");
    stop.abort();
    // Without the signal this waits the scenario's 30 minutes out: the test's own timeout is the bound.
    const summary = await run;
    expect(summary).toMatchObject({ stopped: true, trucks: 1 });
    expect(summary.records).toBe(published);
    expect(summary.records).toBeLessThan(trucks[0]!.plan.records.length);
  });
});
