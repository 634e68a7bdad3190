/**
 * Faults on the Kafka side (design promise 3: Kafka slow or down → trucks buffer, nothing breaks): the broker is
 * restarted, and the broker is down for 60 s. These tests stop and start a broker, so they run their own local
 * Kafka whatever KAFKA_BROKERS says.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.ts";
import { type FleetRun, startFleetRun } from "../e2e/fleet.ts";
import { type E2eKafka, startKafka } from "../e2e/kafka.ts";
import { expectNoLossNoReorder, sleep } from "./support.ts";

describe("faults: Kafka", () => {
  let kafka: E2eKafka;
  const runs: FleetRun[] = [];
  beforeAll(async () => {
    kafka = await startKafka({ own: true });
  });
  afterAll(async () => {
    for (const r of runs) await r.close();
    await kafka?.close();
  });

  it("broker restart: records wait in the outboxes and arrive once the broker is back", async () => {
    const r = await startFleetRun({ name: "f-kafkarestart", brokers: kafka.brokers, trucks: 6 });
    runs.push(r);
    await r.waitAcked(150);
    await kafka.local!.stop();
    await waitFor(() => r.agents.every((a) => a.depth() >= 100), "a backlog of 100 records on every truck", {
      timeoutMs: 30_000,
    });
    await kafka.local!.start();
    const result = await r.finish();
    expectNoLossNoReorder("Kafka broker restart", result);
  });

  it("Kafka down for 60 s: nothing is acknowledged meanwhile, nothing breaks, everything drains after", async () => {
    const r = await startFleetRun({ name: "f-kafkadown", brokers: kafka.brokers, trucks: 6 });
    runs.push(r);
    await r.waitAcked(150);
    const downAt = Date.now();
    await kafka.local!.stop();
    // Batches in flight when the broker went down may still complete; after that, no acknowledgement may go out.
    await sleep(5_000);
    const ackedEarly = r.agents.map((a) => a.acked().telemetry);
    await sleep(Math.max(0, 60_000 - (Date.now() - downAt)));
    const ackedLate = r.agents.map((a) => a.acked().telemetry);
    expect(ackedLate).toEqual(ackedEarly);
    // The trucks kept recording into their outboxes, stayed connected to the bridge, and the bridge stayed up.
    for (const a of r.agents) {
      expect(a.depth(), a.truckId).toBeGreaterThan(1_000);
      expect(a.agent.uplink.stats().connected, a.truckId).toBe(true);
    }
    expect(r.bridge()!.child.exitCode).toBeNull();
    await kafka.local!.start();
    const result = await r.finish({ drainTimeoutMs: 180_000 });
    expectNoLossNoReorder("Kafka down 60 s", result);
    process.stdout.write(`Kafka down 60 s: backlog drained in ${result.drainMs} ms after the broker returned\n`);
  });
});
