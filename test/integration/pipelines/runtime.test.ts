/**
 * The pipeline runtime against a real Kafka: typed, filtered batches; invalid records skipped and counted; offsets
 * committed only after the handler finished; a failing handler gets its batch again; an offset store makes a
 * restarted pipeline resume where its own output ends, whatever Kafka's committed offset says; rebalances release
 * the revoked partitions.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type OffsetStore,
  parsePipelineRuntimeConfig,
  type PipelineHandler,
  type PipelineRunner,
  type RecordBatch,
  type StoredPosition,
  type TopicPartition,
} from "../../../pipelines/runtime/index.ts";
import { FleetError } from "../../../common/errors.ts";
import type { Alert } from "../../../protocol/alerts.ts";
import { KAFKA_HEADERS } from "../../../protocol/kafka.ts";
import type { TelemetryRecord } from "../../../protocol/records.ts";
import { createTopics, deleteTopics, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { committed, gate, produce, produceOpenedAlert, seqs, telemetry, telemetryRunner } from "./support.ts";

const kafka = testKafka("pipeline-runtime-test");
const topics: string[] = [];
const runners: PipelineRunner[] = [];

async function newTopic(partitions = 1): Promise<string> {
  const topic = uniqueTopic("pipeline");
  await createTopics(kafka, [{ topic, partitions }]);
  topics.push(topic);
  return topic;
}

function runner(
  topic: string,
  groupId: string,
  handler: PipelineHandler,
  extra: Record<string, unknown> = {},
  offsetStore?: OffsetStore,
) {
  const r = telemetryRunner(topic, groupId, { handler, ...(offsetStore ? { offsetStore } : {}) }, extra);
  runners.push(r);
  return r;
}

const group = () => `pipeline-test-${randomBytes(4).toString("hex")}`;

afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(() => deleteTopics(kafka, topics));

describe("pipeline runtime", () => {
  it("hands typed, in-order, de-duplicated batches; invalid records are counted and skipped", async () => {
    const topic = await newTopic();
    await produce(kafka, topic, [
      telemetry("T1", 0),
      telemetry("T1", 1),
      "not json",
      telemetry("T1", 1), // a retry's duplicate
      { truckId: "T1", hello: "another producer" },
      telemetry("T1", 2),
      telemetry("T1", 5), // 3..4 lost on the truck: a gap
    ]);
    const seen: TelemetryRecord[] = [];
    const gaps: unknown[] = [];
    const r = runner(topic, group(), {
      handle(batch) {
        if (batch.kind !== "telemetry") throw new Error(`unexpected kind ${batch.kind}`);
        for (const d of batch.records) {
          seen.push(d.record);
          if (d.gap) gaps.push(d.gap);
        }
      },
    });
    await r.start();
    await waitFor(() => seen.length >= 4, "4 kept records");
    expect(seqs(seen)).toEqual(["T1:0", "T1:1", "T1:2", "T1:5"]);
    expect(gaps).toEqual([{ fromSeq: 3, toSeq: 4, count: 2 }]);
    const metrics = await r.metrics.registry.getMetricsAsJSON();
    const records = metrics.find((m) => m.name === "fleetsync_pipeline_records_total")!.values;
    const byResult = Object.fromEntries(records.map((v) => [v.labels.result, v.value]));
    expect(byResult).toMatchObject({ kept: 4, duplicate: 1, invalid: 2 });
    expect(r.ready()).toBe(true);
  });

  it("passes on the bridge's received-at header; a null one (another producer's) is no time, not a failing batch", async () => {
    const topic = await newTopic();
    // seq 1 names the header with no value: kafkajs writes a null header (length -1).
    await produce(
      kafka,
      topic,
      [0, 1, 2].map((seq) => telemetry("T9", seq)),
      undefined,
      (seq) => ({
        "content-type": "application/json",
        [KAFKA_HEADERS.receivedAt]: seq === 1 ? null : `2026-11-30T20:00:0${seq}.000Z`,
      }),
    );
    const seen: { seq: number; receivedAt: string | undefined }[] = [];
    const r = runner(topic, group(), {
      handle(batch) {
        for (const d of batch.records) seen.push({ seq: (d.record as TelemetryRecord).seq, receivedAt: d.receivedAt });
      },
    });
    await r.start();
    await waitFor(() => seen.length >= 3, "3 records handled");
    expect(seen).toEqual([
      { seq: 0, receivedAt: "2026-11-30T20:00:00.000Z" },
      { seq: 1, receivedAt: undefined },
      { seq: 2, receivedAt: "2026-11-30T20:00:02.000Z" },
    ]);
  });

  it("commits a batch's offsets only after its handler finished", async () => {
    const topic = await newTopic();
    const groupId = group();
    await produce(kafka, topic, [telemetry("T2", 0), telemetry("T2", 1)]);
    const hold = gate();
    let called = 0;
    const r = runner(topic, groupId, {
      async handle() {
        called += 1;
        await hold.promise;
      },
    });
    await r.start();
    await waitFor(() => called > 0, "the handler called");
    expect(await committed(kafka, groupId, topic)).toEqual({ 0: "-1" });
    hold.open();
    await waitFor(async () => (await committed(kafka, groupId, topic))[0] === "2", "offset 2 committed");
  });

  it("commits everything handled when stopped, between two periodic commits", async () => {
    const topic = await newTopic();
    const groupId = group();
    await produce(kafka, topic, [telemetry("T5", 0), telemetry("T5", 1), telemetry("T5", 2)]);
    let seen = 0;
    const r = runner(
      topic,
      groupId,
      { handle: (batch) => void (seen += batch.records.length) },
      {
        commitIntervalMs: 600_000, // after the first commit, no periodic one during the test: only stop() can commit
      },
    );
    await r.start();
    await waitFor(async () => (await committed(kafka, groupId, topic))[0] === "3", "the first commit");
    await produce(kafka, topic, [telemetry("T5", 3), telemetry("T5", 4)]);
    await waitFor(() => seen === 5, "5 records handled");
    expect((await committed(kafka, groupId, topic))[0]).toBe("3");
    await r.stop();
    expect(await committed(kafka, groupId, topic)).toEqual({ 0: "5" });
  });

  it("delivers a batch again when its handler throws, and commits nothing of it meanwhile", async () => {
    const topic = await newTopic();
    const groupId = group();
    await produce(kafka, topic, [telemetry("T3", 0), telemetry("T3", 1), telemetry("T3", 2)]);
    const attempts: string[][] = [];
    const r = runner(topic, groupId, {
      async handle(batch) {
        attempts.push(seqs(batch.records.map((d) => d.record as TelemetryRecord)));
        if (attempts.length < 3) {
          // Nothing of the batch committed: no offset yet, or 0 (the retry's seek commits where the batch starts).
          expect(["-1", "0"]).toContain((await committed(kafka, groupId, topic))[0]);
          throw new Error("database down");
        }
      },
    });
    await r.start();
    await waitFor(async () => (await committed(kafka, groupId, topic))[0] === "3", "offset 3 committed");
    // Every attempt got the whole batch: the filter was rebuilt, so the redelivered records were not duplicates.
    expect(attempts.length).toBe(3);
    for (const attempt of attempts) expect(attempt).toEqual(["T3:0", "T3:1", "T3:2"]);
    const failed = (await r.metrics.registry.getMetricsAsJSON())
      .find((m) => m.name === "fleetsync_pipeline_batches_total")!
      .values.find((v) => v.labels.result === "failed");
    expect(failed?.value).toBe(2);
  });

  it("retries by the error's retriable flag: a retriable FleetError's batch comes again; a non-retriable one pauses its partition", async () => {
    const topic = await newTopic(2);
    const groupId = group();
    // FLEET_DATABASE is retriable (a database that comes back); FLEET_SCHEMA_NEWER is not (only an upgrade helps).
    const attempts = { retriable: 0, fatal: 0 };
    let fatalPartition: number | undefined;
    const handledOk: string[] = [];
    const r = runner(topic, groupId, {
      async handle(batch) {
        const trucks = batch.records.map((d) => (d.record as TelemetryRecord).truckId);
        if (trucks.includes("FATAL") || batch.partition === fatalPartition) {
          attempts.fatal += 1;
          fatalPartition = batch.partition;
          throw new FleetError("FLEET_SCHEMA_NEWER", "the history schema is newer (test)");
        }
        if (trucks.some((t) => t.startsWith("RETRY")) && attempts.retriable++ === 0) {
          throw new FleetError("FLEET_DATABASE", "database restarting (test)");
        }
        handledOk.push(...seqs(batch.records.map((d) => d.record as TelemetryRecord)));
      },
    });
    // Trucks until one lands on each partition, so the other partition shows the runner still reading.
    const trucks = Array.from({ length: 16 }, (_, i) => `RETRY-${i}`);
    await produce(kafka, topic, [telemetry("FATAL", 0)]);
    await r.start();
    await waitFor(() => r.halted().length === 1, "the partition of the non-retriable failure paused");
    expect(r.halted()).toEqual([{ topic, partition: fatalPartition, code: "FLEET_SCHEMA_NEWER" }]);
    expect(r.ready()).toBe(false);
    // Retriable: RETRY-n records on the other partition fail once and come again.
    await produce(
      kafka,
      topic,
      trucks.map((t) => telemetry(t, 0)),
    );
    await waitFor(() => handledOk.length > 0, "records of the other partition handled after a retry");
    expect(attempts.retriable).toBeGreaterThanOrEqual(2);
    // The paused partition's batch was tried once, and never again however far the runner goes: twice, a record is
    // added to the paused partition and then one to the other, and the other's is waited for. Kafka answers a fetch
    // with the data of every partition fetched, and kafkajs fetches again only once every batch of its last fetch
    // was handled: a paused partition still fetched (for a retry or its new record) would reach the handler within
    // these rounds. A condition, where a fixed 2 s window used to stand.
    const other = handledOk[0]!.split(":")[0]!; // a truck of the other partition
    for (const seq of [1, 2]) {
      await produce(kafka, topic, [telemetry("FATAL", seq)]);
      await produce(kafka, topic, [telemetry(other, seq)]);
      await waitFor(() => handledOk.includes(`${other}:${seq}`), `${other}:${seq} handled on the other partition`);
    }
    expect(attempts.fatal).toBe(1);
    expect(r.halted()).toEqual([{ topic, partition: fatalPartition, code: "FLEET_SCHEMA_NEWER" }]);
    expect((await committed(kafka, groupId, topic))[fatalPartition!] ?? "-1").toBe("-1");
  });

  it("an optional topic created after start (detect's alerts, started after the map) is read once it exists", async () => {
    const topic = await newTopic();
    const alertsTopic = uniqueTopic("pipeline-alerts");
    topics.push(alertsTopic);
    const seen: string[] = [];
    const r = runner(
      topic,
      group(),
      {
        handle(batch) {
          for (const d of batch.records) {
            seen.push(batch.kind === "alerts" ? `alert ${(d.record as Alert).id}` : `${batch.kind}`);
          }
        },
      },
      { topics: { telemetry: topic, alerts: alertsTopic } },
    );
    await r.start();
    await produce(kafka, topic, [telemetry("T9", 0)]);
    await waitFor(() => seen.includes("telemetry"), "the telemetry record");
    // Now detect starts: it creates the alerts topic and writes an alert.
    await createTopics(kafka, [{ topic: alertsTopic, partitions: 2 }]);
    const alert = await produceOpenedAlert(kafka, alertsTopic, "T9");
    await waitFor(() => seen.includes(`alert ${alert.id}`), "the alert read from the topic created after start");
    // The telemetry already handled was committed before the consumer rejoined with the new topic: not read again.
    await produce(kafka, topic, [telemetry("T9", 1)]);
    await waitFor(() => seen.filter((s) => s === "telemetry").length >= 2, "the next telemetry record");
    expect(seen.filter((s) => s === "telemetry")).toHaveLength(2);
    expect(r.ready()).toBe(true);
  });

  it("with an offset store, resumes at the stored position whatever Kafka's committed offset says", async () => {
    const topic = await newTopic();
    const groupId = group();
    // The pipeline's "database": its output and its position, written together (one transaction in real life).
    const db = { output: [] as string[], position: undefined as StoredPosition | undefined };
    const offsetStore = { load: async () => db.position };
    const handler: PipelineHandler = {
      handle(batch: RecordBatch) {
        db.output.push(...seqs(batch.records.map((d) => d.record as TelemetryRecord)));
        db.position = batch.position();
      },
    };
    await produce(kafka, topic, [telemetry("T4", 0), telemetry("T4", 1)]);
    const first = runner(topic, groupId, handler, {}, offsetStore);
    await first.start();
    await waitFor(() => db.output.length === 2, "2 records in the store");
    await first.stop();
    // Someone rewinds the group in Kafka (or the commit after the transaction was lost in a crash).
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: "0" }] });
    await admin.disconnect();
    await produce(kafka, topic, [telemetry("T4", 1), telemetry("T4", 2)]); // a duplicate, then a new record

    const second = runner(topic, groupId, handler, {}, offsetStore);
    await second.start();
    await waitFor(async () => (await committed(kafka, groupId, topic))[0] === "4", "offset 4 committed");
    // Each record once: the seek skipped 0..1, the restored filter dropped the duplicate of seq 1.
    expect(db.output).toEqual(["T4:0", "T4:1", "T4:2"]);
  });

  it("with historyMs, starts at the recent past, or at the committed offset when a replay put it earlier", async () => {
    const topic = await newTopic();
    const groupId = group();
    const producer = kafka.producer();
    await producer.connect();
    const old = String(Date.now() - 3 * 3_600_000);
    const recent = String(Date.now() - 60_000);
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: "T6", value: JSON.stringify(telemetry("T6", 0)), timestamp: old },
        { key: "T6", value: JSON.stringify(telemetry("T6", 1)), timestamp: recent },
      ],
    });
    await producer.disconnect();
    const seen: string[] = [];
    const handler: PipelineHandler = {
      handle: (batch) => void seen.push(...seqs(batch.records.map((d) => d.record as TelemetryRecord))),
    };
    const first = runner(topic, groupId, handler, { historyMs: 600_000 });
    await first.start();
    await waitFor(async () => (await committed(kafka, groupId, topic))[0] === "2", "offset 2 committed");
    expect(seen).toEqual(["T6:1"]); // only the last 10 minutes
    await first.stop();

    // A replay moved the group back to the start: the earlier of the two wins, so the old record comes too.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: "0" }] });
    await admin.disconnect();
    seen.length = 0;
    const second = runner(topic, groupId, handler, { historyMs: 600_000 });
    await second.start();
    await waitFor(() => seen.length === 2, "both records after the rewind");
    expect(seen).toEqual(["T6:0", "T6:1"]);
  });

  it("tells the handler which partitions a rebalance took away", async () => {
    const topic = await newTopic(2);
    const groupId = group();
    const revoked: TopicPartition[] = [];
    const a = runner(topic, groupId, { handle: () => undefined, revoked: (list) => void revoked.push(...list) });
    await a.start();
    await waitFor(() => a.assignment().length === 2, "member a holds both partitions");
    const b = runner(topic, groupId, { handle: () => undefined });
    await b.start();
    await waitFor(() => revoked.length === 1 && b.assignment().length === 1, "one partition moved to member b", {
      timeoutMs: 60_000,
    });
    expect(a.assignment()).toHaveLength(1);
    expect(revoked[0]).toEqual(b.assignment()[0]);
  });

  it("names the field of a bad configuration", () => {
    expect(() =>
      parsePipelineRuntimeConfig({ name: "x", groupId: "g", kafka: { brokers: [] }, topics: { telemetry: "t" } }),
    ).toThrow(/kafka\.brokers/);
  });
});
