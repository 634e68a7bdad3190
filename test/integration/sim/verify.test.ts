/**
 * `fleetsync verify` against the real Kafka: known sequences with a duplicate, a reorder and a gap (plus an
 * announced gap on an events topic) are produced into fresh topics; the summary and the exit code must catch each.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../../cli/verify.ts";
import { runVerify } from "../../../sim/verify/verify.ts";
import { createTopics, kafkaBrokers, testKafka, uniqueTopic } from "../../support/kafka.ts";

const STREAM = "00000000000000a1";
const kafka = testKafka("sim-verify-test");
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

const rec = (truckId: string, seq: number, stream = STREAM) => ({
  key: truckId,
  value: JSON.stringify({
    truckId,
    stream,
    seq,
    ts: new Date(1_767_600_000_000 + seq * 1000).toISOString(),
    timeSource: "gnss",
  }),
});

async function produce(topic: string, messages: { key: string; value: string }[]) {
  await producer.send({ topic, acks: -1, messages });
}

/** Runs the command and returns its exit code and parsed JSON output. */
async function cli(argv: string[]) {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await run(argv);
    return { code, summary: JSON.parse(out) };
  } finally {
    spy.mockRestore();
  }
}

describe("fleetsync verify (real Kafka)", () => {
  const topic = uniqueTopic("sim-verify");
  const events = uniqueTopic("sim-verify-events");
  const clean = uniqueTopic("sim-verify-clean");

  beforeAll(async () => {
    await createTopics(kafka, [
      { topic, partitions: 3 },
      { topic: events, partitions: 3 },
      { topic: clean, partitions: 3 },
    ]);
    await producer.connect();
    const seq = (truck: string, seqs: number[]) => seqs.map((s) => rec(truck, s));
    await produce(topic, [
      ...seq("ok", [0, 1, 2, 3, 4, 5]),
      ...seq("dup", [0, 1, 2, 2, 3, 4, 5]),
      ...seq("reorder", [0, 1, 3, 2, 4, 5]),
      ...seq("gap", [0, 1, 4, 5]),
      ...seq("announced", [0, 3, 4, 5]),
    ]);
    await produce(events, [
      {
        key: "announced",
        value: JSON.stringify({
          truckId: "announced",
          stream: STREAM,
          seq: 0,
          ts: "2026-01-05T06:00:00.000Z",
          timeSource: "gnss",
          type: "gap",
          channel: "telemetry",
          fromSeq: 1,
          toSeq: 2,
          count: 2,
          reason: "outbox-full",
        }),
      },
    ]);
    await produce(clean, [...seq("c1", [0, 1, 2]), ...seq("c2", [0, 1, 2, 2])]);
  });

  afterAll(async () => {
    await producer.disconnect();
  });

  it("catches the duplicate, the reorder and the gap, and reports the announced gap apart", async () => {
    const { code, summary } = await cli([
      "--brokers",
      kafkaBrokers().join(","),
      "--topic",
      topic,
      "--events-topic",
      events,
      "--expect",
      "6",
      "--timeout",
      "4",
    ]);
    expect(code).toBe(1);
    expect(summary.ok).toBe(false);
    expect(summary.timedOut).toBe(true); // "gap" never reaches 6: verify waited until the deadline
    const t = summary.trucks;
    expect(t.ok).toMatchObject({ unique: 6, kept: 6, duplicates: 0, reordered: 0, lostUnexplained: 0 });
    expect(t.dup).toMatchObject({ received: 7, unique: 6, kept: 6, duplicates: 1, reordered: 0, lostUnexplained: 0 });
    expect(t.reorder).toMatchObject({ unique: 6, kept: 5, reordered: 1, lostUnexplained: 0 });
    expect(t.gap).toMatchObject({ unique: 4, lostUnexplained: 2, lostAnnounced: 0 });
    expect(t.gap.streams[0].missingRanges).toEqual([[2, 3]]);
    expect(t.announced).toMatchObject({ unique: 4, lostAnnounced: 2, lostUnexplained: 0 });
    expect(summary.announcedGaps).toBe(1);
    expect(summary.failures).toEqual(
      expect.arrayContaining([
        "reorder: 1 records arrived after a higher seq (reordered)",
        "gap: 2 records lost without an announcement",
      ]),
    );
    expect(summary.failures.some((f: string) => f.startsWith("dup:") || f.startsWith("announced:"))).toBe(false);
  });

  it("exits 0 on a complete topic with duplicates only, as soon as the expectation is met", async () => {
    const began = Date.now();
    const { code, summary } = await cli([
      "--brokers",
      kafkaBrokers().join(","),
      "--topic",
      clean,
      "--expect",
      '{"c1":3,"c2":3}',
      "--timeout",
      "60",
    ]);
    expect(code).toBe(0);
    expect(summary).toMatchObject({
      ok: true,
      timedOut: false,
      totals: { unique: 6, duplicates: 1, lostUnexplained: 0 },
    });
    expect(Date.now() - began).toBeLessThan(30_000);
  });

  it("without --expect reads to the end of the topic and judges what is there", async () => {
    const summary = await runVerify({ brokers: kafkaBrokers(), topic, timeoutMs: 30_000 }, { kafka });
    expect(summary.timedOut).toBe(false);
    expect(summary.messagesRead).toBe(27);
    expect(summary.totals).toMatchObject({ trucks: 5, duplicates: 1, reordered: 1 });
  });
});
