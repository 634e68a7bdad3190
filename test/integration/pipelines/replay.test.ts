/**
 * `fleetsync replay` (the command, as a process) against a real Kafka: it refuses a group with live members and
 * changes nothing; on a stopped group it moves the offsets to the first record at or after "2 hours ago" (Kafka's
 * ListOffsets by timestamp), prints the moves, and the pipeline then reads exactly the records from there on. The
 * live map replays too: rewound past its 10 minutes of start-up history, it shows trucks it had not shown.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createMapService, type MapService, parseMapConfig } from "../../../pipelines/map/index.ts";
import type { PipelineRunner } from "../../../pipelines/runtime/index.ts";
import type { TelemetryRecord } from "../../../protocol/records.ts";
import { REPO } from "../../e2e/bridge.ts";
import { fleetsyncCommand } from "../../support/build.ts";
import { createTopics, deleteTopics, kafkaBrokers, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { committed, seqs, telemetry, telemetryRunner } from "./support.ts";

const kafka = testKafka("replay-test");
const topics: string[] = [];
const runners: (PipelineRunner | MapService)[] = [];
const HOUR = 3_600_000;

function replay(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...fleetsyncCommand(), "replay", "--brokers", kafkaBrokers().join(","), ...args],
      { cwd: REPO },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function start(topic: string, groupId: string, seen: string[]): PipelineRunner {
  const runner = telemetryRunner(topic, groupId, {
    handler: { handle: (batch) => void seen.push(...seqs(batch.records.map((d) => d.record as TelemetryRecord))) },
  });
  runners.push(runner);
  return runner;
}

afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(() => deleteTopics(kafka, topics));

describe("fleetsync replay", () => {
  it("refuses a live group, then rewinds the stopped group to 2 hours ago and the pipeline reads from there", async () => {
    const topic = uniqueTopic("replay");
    topics.push(topic);
    await createTopics(kafka, [{ topic, partitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    const at = (ms: number) => String(Date.now() - ms);
    await producer.send({
      topic,
      acks: -1,
      messages: [
        ...[0, 1].flatMap((seq) =>
          ["R1", "R2"].map((id, partition) => ({
            key: id,
            partition,
            value: JSON.stringify(telemetry(id, seq)),
            timestamp: at(3 * HOUR),
          })),
        ),
        ...[2, 3].flatMap((seq) =>
          ["R1", "R2"].map((id, partition) => ({
            key: id,
            partition,
            value: JSON.stringify(telemetry(id, seq)),
            timestamp: at(HOUR),
          })),
        ),
      ],
    });
    await producer.disconnect();

    const groupId = `replay-test-${randomBytes(4).toString("hex")}`;
    const first: string[] = [];
    const runner = start(topic, groupId, first);
    await runner.start();
    await waitFor(() => first.length === 8, "all 8 records read");
    const end = await waitFor(async () => {
      const offsets = await committed(kafka, groupId, topic);
      return Object.values(offsets).reduce((sum, o) => sum + Number(o), 0) === 8 ? offsets : undefined;
    }, "offsets committed to the end");

    const refused = await replay("--group", groupId, "--to", "2 hours ago");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/live member.*\[FLEET_GROUP_ACTIVE\]/);
    expect(await committed(kafka, groupId, topic)).toEqual(end);

    await runner.stop();
    const moved = await replay("--group", groupId, "--to", "2 hours ago");
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    // Each partition holds one truck's 4 records (2 old, then 2 recent): 4 -> 2 on both.
    expect(moved.stdout).toContain(`${topic}/0  4 -> 2  (-2)`);
    expect(moved.stdout).toContain(`${topic}/1  4 -> 2  (-2)`);
    expect(await committed(kafka, groupId, topic)).toEqual({ 0: "2", 1: "2" });

    const second: string[] = [];
    await start(topic, groupId, second).start();
    await waitFor(() => second.length === 4, "the 4 recent records read again");
    expect(second.sort()).toEqual(["R1:2", "R1:3", "R2:2", "R2:3"]);
  });
});

describe("fleetsync replay and the live map", () => {
  it("a map group rewound to 4 hours ago shows the trucks of 3 hours ago, which its 10 minutes of history left out", async () => {
    const t = {
      telemetry: uniqueTopic("replay-map-t"),
      events: uniqueTopic("replay-map-e"),
      status: uniqueTopic("replay-map-s"),
    };
    topics.push(...Object.values(t));
    await createTopics(
      kafka,
      Object.values(t).map((topic) => ({ topic, partitions: 1 })),
    );
    const producer = kafka.producer();
    await producer.connect();
    const old = String(Date.now() - 3 * HOUR);
    await producer.send({
      topic: t.telemetry,
      acks: -1,
      messages: [
        { key: "OLD", value: JSON.stringify(telemetry("OLD", 0)), timestamp: old },
        { key: "OLD", value: JSON.stringify(telemetry("OLD", 1)), timestamp: old },
        { key: "NEW", value: JSON.stringify(telemetry("NEW", 0)) },
      ],
    });
    await producer.disconnect();
    const config = parseMapConfig({
      groupId: `replay-map-${randomBytes(4).toString("hex")}`,
      kafka: { brokers: kafkaBrokers() },
      // Every topic named: one left out is read under its production name (fleet.latest, fleet.alerts), where a
      // shared Kafka holds other runs' trucks. These two are never created: the map runs without them.
      topics: { ...t, latest: uniqueTopic("replay-map-l"), alerts: uniqueTopic("replay-map-a") },
      http: { host: "127.0.0.1", port: 0 },
    });
    const startMap = async () => {
      const map = createMapService(config);
      runners.push(map);
      await map.start();
      return map;
    };

    const first = await startMap();
    await waitFor(() => first.state.get("NEW")?.seq === 0, "NEW on the map");
    expect(first.state.get("OLD")).toBeUndefined(); // 3 hours old: outside the map's start-up history
    await first.stop(); // commits what it handled

    const moved = await replay("--group", config.groupId, "--to", "4 hours ago");
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`${t.telemetry}/0  3 -> 0  (-3)`);

    const second = await startMap();
    await waitFor(() => second.state.get("OLD")?.seq === 1 && second.state.get("NEW")?.seq === 0, "both trucks");
  });
});
