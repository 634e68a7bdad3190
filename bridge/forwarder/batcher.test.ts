import { describe, expect, it } from "vitest";
import { FleetError } from "../../common/errors.ts";
import { waitFor } from "../../test/support/wait.ts";
import type { Delivery, OutMessage } from "../kafka-sink/index.ts";
import { Batcher, type BatcherOptions } from "./batcher.ts";

const OPTIONS: BatcherOptions = {
  maxBatchRecords: 4,
  maxBatchBytes: 1_000_000,
  lingerMs: 1,
  maxPendingRecords: 8,
  retryInitialMs: 1,
  retryMaxMs: 4,
};

const msg = (key: string, n: number): OutMessage => ({ topic: "t", key, value: String(n), headers: {} });

/** A Kafka double that fails the first `failures` sends and records every batch it accepted, in order. */
function flakySink(failures: number) {
  const accepted: OutMessage[][] = [];
  let calls = 0;
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  return {
    accepted,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release: () => open(),
    async send(messages: OutMessage[]): Promise<Delivery[]> {
      await gate;
      calls += 1;
      if (calls <= failures) throw new Error("broker down");
      accepted.push(messages);
      return messages.map((m, i) => ({ topic: m.topic, partition: 0, offset: String(i) }));
    },
  };
}

describe("Batcher", () => {
  it("keeps the order of submissions through failed and retried batches", async () => {
    const sink = flakySink(3);
    const batcher = new Batcher(sink, OPTIONS);
    const done = Array.from({ length: 20 }, (_, i) => batcher.submit([msg(`k${i % 3}`, i)]));
    await Promise.all(done);
    const values = sink.accepted.flat().map((m) => Number(m.value));
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(Math.max(...sink.accepted.map((b) => b.length))).toBeLessThanOrEqual(OPTIONS.maxBatchRecords);
  });

  it("admits at most maxPendingRecords; the rest wait and are admitted as batches complete", async () => {
    const sink = flakySink(0);
    sink.hold();
    const seen: number[] = [];
    const batcher = new Batcher(sink, OPTIONS, { onPending: (records) => seen.push(records) });
    const done = Array.from({ length: 12 }, (_, i) => batcher.submit([msg("k", i)]));
    expect(batcher.pendingRecords).toBe(8);
    expect(batcher.waitingPublishes).toBe(4);
    sink.release();
    await Promise.all(done);
    expect(Math.max(...seen)).toBeLessThanOrEqual(8);
    expect(batcher.pendingRecords).toBe(0);
    expect(sink.accepted.flat().map((m) => Number(m.value))).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("resolves each submission with its own deliveries and never splits a publish", async () => {
    const sink = flakySink(0);
    const batcher = new Batcher(sink, OPTIONS);
    const [a, b] = await Promise.all([
      batcher.submit([msg("a", 1), msg("a", 2), msg("a", 3)]),
      batcher.submit([msg("b", 4), msg("b", 5)]),
    ]);
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(2);
    for (const batch of sink.accepted) expect(new Set(batch.map((m) => m.key)).size).toBe(1);
  });

  it("stop() while Kafka is down fails what is left with FLEET_CLOSED instead of hanging", async () => {
    const sink = flakySink(Number.POSITIVE_INFINITY);
    const batcher = new Batcher(sink, OPTIONS);
    const pending = batcher.submit([msg("k", 1)]);
    await batcher.stop(20);
    await expect(pending).rejects.toMatchObject({ code: "FLEET_CLOSED" });
    await expect(batcher.submit([msg("k", 2)])).rejects.toMatchObject({ code: "FLEET_CLOSED" });
    await batcher.stop(20); // idempotent
  });
});

describe("Batcher retry decisions (FleetError.retriable)", () => {
  it("retries a retriable failure, and fails a non-retriable one at once instead of retrying it", async () => {
    let calls = 0;
    let failure: Error = new FleetError("FLEET_KAFKA", "broker down");
    const sink = {
      async send(messages: OutMessage[]): Promise<Delivery[]> {
        calls += 1;
        if (calls === 1) throw failure;
        if (calls === 3) throw failure;
        return messages.map((m, i) => ({ topic: m.topic, partition: 0, offset: String(i) }));
      },
    };
    const batcher = new Batcher(sink, OPTIONS);
    await batcher.submit([msg("k", 1)]);
    expect(calls).toBe(2);
    failure = new FleetError("FLEET_CLOSED", "the Kafka sink is stopped");
    await expect(batcher.submit([msg("k", 2)])).rejects.toMatchObject({ code: "FLEET_CLOSED" });
    expect(calls).toBe(3);
    // The batcher itself carries on: the next publish is sent.
    await batcher.submit([msg("k", 3)]);
    expect(calls).toBe(4);
  });
});

describe("Batcher with a topic Kafka cannot take (FLEET_KAFKA_TOPIC)", () => {
  /** A Kafka double on which `missing` topics do not exist: a batch holding one fails naming them. */
  function topicSink() {
    const missing = new Set<string>(["gone"]);
    const accepted: OutMessage[] = [];
    return {
      missing,
      accepted,
      async send(messages: OutMessage[]): Promise<Delivery[]> {
        const gone = [...new Set(messages.map((m) => m.topic))].filter((t) => missing.has(t));
        if (gone.length > 0) throw new FleetError("FLEET_KAFKA_TOPIC", "missing", { details: { topics: gone } });
        accepted.push(...messages);
        return messages.map((m, i) => ({ topic: m.topic, partition: 0, offset: String(accepted.length + i) }));
      },
    };
  }
  const on = (topic: string, n: number): OutMessage => ({ topic, key: "k", value: String(n), headers: {} });

  it("parks that topic's publishes in order while other topics flow; they land, in order, once it exists", async () => {
    const sink = topicSink();
    const batcher = new Batcher(sink, { ...OPTIONS, maxPendingRecords: 100 });
    const parked = [1, 2, 3].map((n) => batcher.submit([on("gone", n)]));
    const flowing = [4, 5, 6].map((n) => batcher.submit([on("ok", n)]));
    await Promise.all(flowing);
    expect(sink.accepted.map((m) => m.value)).toEqual(["4", "5", "6"]);
    const later = batcher.submit([on("gone", 7)]);
    sink.missing.clear();
    await Promise.all([...parked, later]);
    expect(sink.accepted.filter((m) => m.topic === "gone").map((m) => m.value)).toEqual(["1", "2", "3", "7"]);
    expect(batcher.pendingRecords).toBe(0);
  });

  it("parked records take at most half the bound: the other topics keep room", async () => {
    const sink = topicSink();
    const batcher = new Batcher(sink, { ...OPTIONS, maxPendingRecords: 8 });
    const parked = Array.from({ length: 10 }, (_, n) => batcher.submit([on("gone", n)]).catch(() => undefined));
    await waitFor(() => batcher.waitingPublishes === 6, "the parked topic's excess back in the admission queue");
    expect(batcher.pendingRecords).toBe(4);
    await Promise.all([1, 2, 3, 4].map((n) => batcher.submit([on("ok", n)])));
    expect(sink.accepted).toHaveLength(4);
    await batcher.stop(0);
    await Promise.all(parked);
  });
});
