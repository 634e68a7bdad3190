import { describe, expect, it } from "vitest";
import { createReadiness, READY_STALL_MS } from "./readiness.ts";

describe("sink readiness", () => {
  it("is not ready while Kafka leaves a batch unanswered for READY_STALL_MS, even when a probe answers", async () => {
    let clock = 1_000_000;
    const readiness = createReadiness(() => clock);
    const probe = async () => undefined; // the cluster answers
    readiness.ok();
    const answered = readiness.sending();
    clock += READY_STALL_MS - 1;
    expect((await readiness.health([], [], probe)).ready).toBe(true);
    clock += 1;
    const stalled = await readiness.health([], [], probe);
    expect(stalled.ready).toBe(false);
    expect(stalled.reasons).toEqual([`Kafka has not answered a batch sent ${READY_STALL_MS / 1000} s ago`]);
    answered();
    readiness.ok();
    expect((await readiness.health([], [], probe)).ready).toBe(true);
    // Two brokers of three down: describeCluster still answers, which said "ready" for a stalled bridge.
    const again = readiness.sending();
    clock += 60_000;
    expect((await readiness.health([], [], probe)).ready).toBe(false);
    again();
  });

  it("keeps a failed batch's reason until a batch is delivered; the probe does not clear it", async () => {
    let clock = 1_000_000;
    const readiness = createReadiness(() => clock);
    readiness.failed("Kafka did not take a batch: NOT_ENOUGH_REPLICAS");
    clock += 60_000;
    const probe = async () => undefined;
    const health = await readiness.health([], [], probe);
    expect(health).toMatchObject({
      ready: false,
      reasons: ["the last Kafka batch failed: Kafka did not take a batch: NOT_ENOUGH_REPLICAS"],
    });
    readiness.ok();
    expect((await readiness.health([], [], probe)).ready).toBe(true);
  });
});
