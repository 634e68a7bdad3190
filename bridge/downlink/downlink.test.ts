import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../common/log.ts";
import { DownlinkConfigSchema } from "./config.ts";
import { createDownlink } from "./downlink.ts";

/**
 * A Kafka double whose admin connection waits until released: the downlink's start is then held in its first Kafka
 * call, where a bridge shutting down while Kafka is slow finds it. Records what each consumer was asked to do.
 */
function slowKafka() {
  let release!: () => void;
  const adminConnected = new Promise<void>((resolve) => (release = resolve));
  const consumers: Array<{ running: boolean; disconnected: boolean }> = [];
  const kafka = {
    admin: () => ({
      connect: () => adminConnected,
      fetchTopicOffsets: async () => [{ partition: 0, high: "3", low: "0", offset: "3" }],
      disconnect: async () => {},
    }),
    consumer: () => {
      const c = { running: false, disconnected: false };
      consumers.push(c);
      return {
        connect: async () => {},
        on: () => () => {},
        events: { END_BATCH_PROCESS: "consumer.end_batch_process" },
        subscribe: async () => {},
        run: async () => {
          c.running = true;
        },
        disconnect: async () => {
          c.disconnected = true;
          c.running = false;
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, consumers, release };
}

/** A downlink on the double, started: its start returns at once and goes on in the background (Kafka may be down). */
async function started(kafka: Kafka) {
  const downlink = createDownlink(DownlinkConfigSchema.parse({}), { kafka, logger: silentLogger, publish: () => {} });
  await downlink.start();
  return downlink;
}

/** Lets the downlink's pending start go on as far as it will (the double answers at once once released). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("downlink lifecycle", () => {
  it("a stop while the start waits for Kafka leaves no consumer running", async () => {
    const { kafka, consumers, release } = slowKafka();
    const downlink = await started(kafka);
    await downlink.stop();
    release();
    await settle();
    expect(consumers.filter((c) => c.running)).toEqual([]);
  });

  it("without a stop, the same start reads the topic (the double is not what keeps the consumer away)", async () => {
    const { kafka, consumers, release } = slowKafka();
    const downlink = await started(kafka);
    release();
    await settle();
    expect(consumers).toEqual([{ running: true, disconnected: false }]);
    await downlink.stop();
    expect(consumers).toEqual([{ running: false, disconnected: true }]);
  });
});
