/**
 * Reading a topic to the end it had when asked, on a real Kafka: `fleetsync config`'s reads (and every other reader
 * of the shared helper) leave no consumer group behind, stop at the end even when it is a transaction marker, and
 * leave out what was written after they asked.
 */
import { afterAll, describe, expect, it } from "vitest";
import { configKafka, readDesired, readReported, writeDesired } from "../../../cli/config-kafka.ts";
import { readToEnd } from "../../../common/kafka/read-to-end.ts";
import { createTopics, deleteTopics, kafkaBrokers, readUntil, testKafka, uniqueTopic } from "../../support/kafka.ts";

const kafka = testKafka("read-to-end-test");
const created: string[] = [];

afterAll(async () => {
  await deleteTopics(kafka, created);
});

/** The ids of the consumer groups Kafka knows now. */
async function groupIds(): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  } finally {
    await admin.disconnect();
  }
}

describe("fleetsync config's reads", () => {
  it("leave no consumer group behind", async () => {
    const configTopic = uniqueTopic("config");
    const statusTopic = uniqueTopic("status");
    created.push(configTopic, statusTopic);
    const options = { brokers: kafkaBrokers(), configTopic, statusTopic, timeoutMs: 60_000 };
    const client = configKafka(options);
    await writeDesired(client, configTopic, "T1", '{"sampler":{"movingPeriodS":5}}');
    await createTopics(kafka, [{ topic: statusTopic, partitions: 3 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: statusTopic,
      messages: [
        { key: "T1", value: JSON.stringify({ truckId: "T1", state: "online", ts: new Date().toISOString() }) },
      ],
    });
    await producer.disconnect();

    const before = await groupIds();
    const desired = await readDesired(client, options);
    await readReported(client, options);
    expect(desired.get("T1")).toContain("movingPeriodS");
    // Groups other runs made meanwhile (other tests share the broker) do not count: only what these reads made.
    const left = [...(await groupIds())].filter((g) => !before.has(g) && g.startsWith("fleetsync-config"));
    expect(left).toEqual([]);
  });
});

describe("readToEnd", () => {
  it("stops at an end that is a transaction marker, hands over committed records only, and leaves no group", async () => {
    const topic = uniqueTopic("txn");
    created.push(topic);
    await createTopics(kafka, [{ topic, partitions: 2 }]);
    const producer = kafka.producer({
      transactionalId: `read-to-end-${topic}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `kept ${i}` })) });
      await committed.commit();
      // The last offsets of both partitions are now an abort marker after records no read_committed reader sees.
      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: `aborted ${i}` })) });
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }

    const before = await groupIds();
    const values: string[] = [];
    await readToEnd(kafka, topic, (m) => values.push(m.value!.toString()), {
      groupPrefix: "read-to-end-test",
      timeoutMs: 60_000,
    });
    expect(values.sort()).toEqual(["kept 0", "kept 1", "kept 2", "kept 3"]);
    const left = [...(await groupIds())].filter((g) => !before.has(g) && g.includes(topic));
    expect(left).toEqual([]);
  });
});

describe("the tests' readUntil", () => {
  it("leaves no consumer group behind", async () => {
    const topic = uniqueTopic("until");
    created.push(topic);
    await createTopics(kafka, [{ topic, partitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: "a", value: "1" },
        { key: "b", value: "2" },
      ],
    });
    await producer.disconnect();
    const before = await groupIds();
    expect(await readUntil(kafka, topic, (r) => r.length >= 2, "two records")).toHaveLength(2);
    // Found by name, or (a name that does not say, as before) by the offsets a new group holds on this topic.
    const admin = kafka.admin();
    await admin.connect();
    const left: string[] = [];
    try {
      for (const groupId of [...(await groupIds())].filter((g) => !before.has(g))) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        if (groupId.includes(topic) || offsets?.partitions.some((p) => Number(p.offset) >= 0)) left.push(groupId);
      }
    } finally {
      await admin.disconnect();
    }
    expect(left).toEqual([]);
  });
});
