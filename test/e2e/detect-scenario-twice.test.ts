/**
 * The same scripted truck run twice, as `npm run demo` or `fleetsync sim scenario` run twice against one Kafka do:
 * two different trips, so two different alerts. A scenario truck used to have a stream id derived from its truck
 * id alone, so the second run's records repeated the first run's (stream, seq): every consumer's in-order filter
 * (the detectors' among them) dropped them as duplicates, and an alert raised on them would have had the first
 * run's alert id (hash of truck, detector, stream, seq, subject). Real path: the scenario publisher (MQTT) -> the
 * bridge process -> Kafka -> the detect service (one consumer group for both runs, as a deployment has).
 */
import { describe, expect, it } from "vitest";
import { planScenarioFleet } from "../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../sim/scenarios/scenario-run.ts";
import { AlertSchema } from "../../protocol/alerts.ts";
import { readUntil, testKafka } from "../support/kafka.ts";
import { cleanupAfterAll } from "../support/cleanup.ts";
import { startScenarioRun } from "./detect-scenario-run.ts";

const kafka = testKafka("detect-twice");
const cleanup = cleanupAfterAll();

describe("a scripted truck run twice", () => {
  it("gives the second run's alerts too, under ids of their own", async () => {
    const plan = (startTimeMs: number) =>
      planScenarioFleet({ trucks: 1, names: ["idle"], prefix: "twice", startTimeMs });
    const first = plan(Math.floor(Date.now() / 1000) * 1000);
    // The second run starts after the first one's last record in event time: a later trip of the same truck.
    const lastMs = first[0]!.plan.records.at(-1)!.atMs;
    const second = plan(Math.floor(Date.now() / 1000) * 1000 + lastMs + 60 * 60_000);
    expect(second[0]!.truckId).toBe(first[0]!.truckId);

    const { files, detect } = await startScenarioRun(kafka, { name: "detect-twice", trucks: first, cleanup });
    const run = (trucks: typeof first) =>
      runScenarios({ url: `mqtt://127.0.0.1:${files.port}`, trucks, speed: 300, password: (id) => `pw-${id}` });

    const alerts = async (count: number) =>
      (await readUntil(kafka, detect.alertsTopic, (r) => r.length >= count, `${count} alert changes`, 90_000)).map(
        (r) => AlertSchema.parse(JSON.parse(r.value!)),
      );
    await run(first);
    const once = await alerts(2);
    expect(once.map((a) => `${a.detector}:${a.state}`)).toEqual(["idling:opened", "idling:closed"]);

    await run(second);
    const twice = await alerts(4);
    expect(twice.map((a) => `${a.detector}:${a.state}`)).toEqual([
      "idling:opened",
      "idling:closed",
      "idling:opened",
      "idling:closed",
    ]);
    // One id per alert (its opened and closed changes share it), a different one per run.
    expect(twice[0]!.id).toBe(twice[1]!.id);
    expect(twice[2]!.id).toBe(twice[3]!.id);
    expect(twice[2]!.id).not.toBe(twice[0]!.id);
    await detect.caughtUp();
  });
});
