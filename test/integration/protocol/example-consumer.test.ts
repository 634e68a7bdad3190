/**
 * The example consumer (protocol/examples/consumer.ts), run as its own process the way a backend team would run
 * it, against the real Kafka: records of three trucks, interleaved, with retried duplicates, a gap and a stream
 * change, produced through the real Kafka mapping. It must print each truck's records once and in order, report
 * the gap and the stream change, a late record inside a gap it reported (and take it off the missing count), a
 * stream that switches back (b1 -> b2 -> b1: each such record reported), and leave its consumer group cleanly on
 * SIGTERM. It runs from the build, under node (test/support/build.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTelemetry, encodeTelemetry } from "../../../protocol/codec.ts";
import { toTelemetryMessage } from "../../../protocol/kafka.ts";
import { roundTo, type TelemetryRecord } from "../../../protocol/records.ts";
import { topicFor } from "../../../protocol/topics.ts";
import { createTopics, kafkaBrokers, testKafka, uniqueTopic, deleteTopics } from "../../support/kafka.ts";
import { nodeCommandFor } from "../../support/build.ts";
import { waitFor } from "../../support/wait.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const S1 = "a1a1a1a1a1a1a1a1";
const S2 = "b2b2b2b2b2b2b2b2";

function record(truckId: string, stream: string, seq: number): TelemetryRecord {
  return {
    truckId,
    stream,
    seq,
    ts: new Date(Date.UTC(2026, 2, 14, 9, 0, seq % 60)).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: roundTo(48.1 + seq / 1e4, 7),
      lon: 11.5,
      altM: 520,
      speedKmh: 60,
      courseDeg: 90,
      sats: 9,
      hdop: 0.9,
    },
  };
}

describe("example consumer against real Kafka", () => {
  const kafka = testKafka("example-consumer-test");
  const topic = uniqueTopic("example-consumer");
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    await createTopics(kafka, [{ topic, partitions: 3 }]);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await deleteTopics(kafka, [topic]);
  });

  it("prints each truck's records once, in order, and reports the gap and the stream change", async () => {
    // What the bridge would write: payloads decoded by the codec, mapped record by record, retries included.
    const truth: Record<string, TelemetryRecord[]> = {
      "TRK-A": [1, 2, 3, 4, 5].map((s) => record("TRK-A", S1, s)),
      "TRK-B": [10, 11, 14, 15].map((s) => record("TRK-B", S1, s)), // 12-13 lost: a gap
      "TRK-C": [...[7, 8].map((s) => record("TRK-C", S1, s)), ...[0, 1].map((s) => record("TRK-C", S2, s))],
      "TRK-D": [10, 12].map((s) => record("TRK-D", S1, s)), // 11 arrives after 12: late, not lost
      "TRK-E": [...[0, 1].map((s) => record("TRK-E", S1, s)), ...[0, 1].map((s) => record("TRK-E", S2, s))],
    };
    const written: TelemetryRecord[] = [
      ...truth["TRK-A"]!.slice(0, 3),
      ...truth["TRK-B"]!.slice(0, 2),
      ...truth["TRK-A"]!.slice(1, 3), // retry of 2-3 after a lost PUBACK
      ...truth["TRK-C"]!.slice(0, 2),
      ...truth["TRK-B"]!.slice(2),
      ...truth["TRK-A"]!.slice(3),
      ...truth["TRK-C"]!.slice(2),
      truth["TRK-C"]![1]!, // a late duplicate of the replaced stream
      ...truth["TRK-B"]!.slice(3), // duplicate of 15
      ...truth["TRK-D"]!,
      record("TRK-D", S1, 11),
      ...truth["TRK-E"]!,
      record("TRK-E", S1, 2), // S1 again after S2: a second gateway with the same truck id
    ];
    const messages = written.map((r) => {
      const decoded = decodeTelemetry(r.truckId, encodeTelemetry([r]));
      if (!decoded.ok) throw decoded.error;
      return toTelemetryMessage(decoded.records[0]!, {
        mqttTopic: topicFor(r.truckId, "telemetry"),
        receivedAt: new Date(),
      });
    });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [...messages, { key: "TRK-A", value: "not json" }] });
    await producer.disconnect();

    child = spawn(
      process.execPath,
      [
        ...nodeCommandFor("protocol/examples/consumer.ts"),
        "--brokers",
        kafkaBrokers().join(","),
        "--group",
        `example-${Date.now()}`,
        "--topic",
        topic,
        "--from-beginning",
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on("data", (chunk) => {
      stderr += chunk;
    });
    const lines = () => stdout.split("\n").filter(Boolean);
    const total = Object.values(truth).reduce((n, r) => n + r.length, 0);
    await waitFor(() => lines().length >= total && stderr.includes('"unreadable"'), `${total} kept records`, {
      timeoutMs: 60_000,
    });

    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);

    const kept = lines().map((line) => JSON.parse(line) as { record: TelemetryRecord; partition: number });
    expect(kept).toHaveLength(total);
    for (const [truckId, records] of Object.entries(truth)) {
      const mine = kept.filter((k) => k.record.truckId === truckId);
      expect(mine.map((k) => k.record)).toEqual(records);
      expect(new Set(mine.map((k) => k.partition)).size).toBe(1);
    }
    const reports = stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reports).toContainEqual(
      expect.objectContaining({ event: "gap", truckId: "TRK-B", fromSeq: 12, toSeq: 13, count: 2 }),
    );
    expect(reports).toContainEqual(
      expect.objectContaining({ event: "stream-changed", truckId: "TRK-C", previousStream: S1, previousLastSeq: 8 }),
    );
    const stopped = reports.find((r) => r.event === "stopped") as { stats: Record<string, Record<string, number>> };
    expect(reports).toContainEqual(
      expect.objectContaining({ event: "gap", truckId: "TRK-D", fromSeq: 11, toSeq: 11, count: 1 }),
    );
    expect(reports).toContainEqual(
      expect.objectContaining({ event: "late", truckId: "TRK-D", stream: S1, seq: 11, lastSeq: 12 }),
    );
    expect(reports).toContainEqual(
      expect.objectContaining({ event: "stale-stream", truckId: "TRK-E", stream: S1, seq: 2, lastSeq: 1 }),
    );
    expect(stopped.stats[topic]).toMatchObject({
      kept: total,
      duplicates: 3,
      staleStream: 2,
      late: 1,
      gaps: 2,
      missing: 2,
    });
  });
});
