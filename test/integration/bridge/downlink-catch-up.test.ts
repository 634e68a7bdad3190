/**
 * Reading fleet.config "to where it ended" when the last offset holds no record a consumer is ever handed: a
 * transaction's commit marker (a control record) ends the log when a transactional producer wrote last. Both readers
 * of the whole topic, `fleetsync config`'s readWhole and the bridge's downlink, must still finish: they waited for a
 * record at end - 1 that never came (`fleetsync config` timed out after 30 s, the downlink never delivered a config).
 */
import { afterAll, describe, expect, it } from "vitest";
import { configKafka, readDesired } from "../../../cli/config-kafka.ts";
import { createDownlink, ensureConfigTopic } from "../../../bridge/downlink/index.ts";
import { DownlinkConfigSchema } from "../../../bridge/downlink/config.ts";
import { silentLogger } from "../../../common/log.ts";
import { deleteTopics, kafkaBrokers, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";

const TRUCK = "cu-truck-1";
const desired = JSON.stringify({ truckId: TRUCK, version: 1 });

describe("reading fleet.config to its end when it ends with a transaction marker", () => {
  const brokers = kafkaBrokers();
  const topic = uniqueTopic("config-catch-up");
  const options = { brokers, configTopic: topic, statusTopic: "unused", timeoutMs: 20_000 };
  const kafka = configKafka(options);

  afterAll(() => deleteTopics(kafka, [topic]));

  it("a transactional producer leaves its commit marker at the end of the compacted topic", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureConfigTopic(admin, topic, { partitions: 1, replicationFactor: 1 });
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({
      transactionalId: `${topic}-writer`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      await transaction.send({ topic, acks: -1, messages: [{ key: TRUCK, value: desired }] });
      await transaction.commit();
    } finally {
      await producer.disconnect();
    }
    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      // One record at offset 0 and the commit marker at 1: the end offset is 2, and offset 1 is never delivered.
      // Awaited, not read once: kafkajs' fetchTopicOffsets asks for the last stable offset (read_committed), and the
      // coordinator writes the commit marker to the partition after EndTxn has answered, so on a busy machine the
      // first answer can still be 0 (the open transaction's first offset).
      const ends = await waitFor(async () => {
        const [end] = await admin2.fetchTopicOffsets(topic);
        return end?.high === "2" && end;
      }, "the commit marker at offset 1 (end offset 2)");
      expect(ends).toMatchObject({ partition: 0, low: "0", high: "2" });
    } finally {
      await admin2.disconnect();
    }
  });

  it("`fleetsync config`'s reader returns the desired config instead of timing out", async () => {
    expect(await readDesired(kafka, options)).toEqual(new Map([[TRUCK, desired]]));
  });

  it("the bridge's downlink marks itself caught up and delivers the config to a truck that subscribed early", async () => {
    const published: Array<{ topic: string; payload: string }> = [];
    const downlink = createDownlink(DownlinkConfigSchema.parse({ topic }), {
      kafka,
      logger: silentLogger,
      publish: (packet) => published.push({ topic: packet.topic, payload: packet.payload.toString() }),
    });
    try {
      downlink.subscribed(TRUCK);
      await downlink.start();
      await waitFor(() => downlink.caughtUp, "the downlink caught up");
      expect(published).toEqual([{ topic: `fleetsync/v1/${TRUCK}/config`, payload: desired }]);
    } finally {
      await downlink.stop();
    }
  });
});
