/**
 * The lifecycle contract (common/lifecycle.ts, test/support/lifecycle-contract.ts) run by the long-lived
 * components that need real parts: the bridge (Aedes over TCP, real Kafka), its Kafka sink, and the pipelines'
 * runner. Each is also stopped while busy: a truck's publish in flight, a batch being sent, a batch being handled.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { createKafkaSink } from "../../bridge/kafka-sink/sink.ts";
import { parseBridgeConfig } from "../../bridge/config.ts";
import { silentLogger } from "../../common/log.ts";
import { encodeTelemetry } from "../../protocol/codec.ts";
import { topicFor } from "../../protocol/topics.ts";
import { createTopics, deleteTopics, kafkaBrokers, testKafka, uniqueTopic } from "../support/kafka.ts";
import { lifecycleContract } from "../support/lifecycle-contract.ts";
import {
  bridgeConfig,
  connectTruck,
  telemetry,
  type TestTopics,
  testTopics,
  type Workspace,
  workspace,
} from "./bridge/harness.ts";
import { produce, telemetry as record, telemetryRunner } from "./pipelines/support.ts";
import { createBridge } from "../../bridge/bridge.ts";

const kafka = testKafka("lifecycle-test");
let space: Workspace;
let topics: TestTopics;
let pipelineTopic: string;

beforeAll(async () => {
  space = await workspace(["life-1"]);
  topics = testTopics("life");
  pipelineTopic = uniqueTopic("life-pipeline");
  await createTopics(kafka, [{ topic: pipelineTopic, partitions: 1 }]);
});

afterAll(async () => {
  await deleteTopics(kafka, [...Object.values(topics), pipelineTopic]);
  await space.remove();
});

describe("the bridge", () => {
  lifecycleContract(
    () => {
      const bridge = createBridge(
        bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile }),
      );
      return {
        component: bridge,
        busy: async () => {
          const truck = await connectTruck(bridge.address("tcp")!.port, "life-1");
          // The bridge closes the connection as it stops; ending the client then settles its unacknowledged publish.
          truck.on("close", () => truck.end(true));
          return {
            settled: truck.publishAsync(topicFor("life-1", "telemetry"), encodeTelemetry([telemetry("life-1", 1)]), {
              qos: 1,
            }),
          };
        },
      };
    },
    { busy: true },
  );
});

describe("the bridge's Kafka sink", () => {
  const config = () =>
    parseBridgeConfig({
      listener: { tcp: { host: "127.0.0.1", port: 0 } },
      kafka: { brokers: kafkaBrokers(), topics, partitions: 2, replicationFactor: 1 },
    }).kafka;
  const message = { topic: "", key: "life-1", value: "{}", headers: {} };
  lifecycleContract(() => {
    const sink = createKafkaSink(config(), { logger: silentLogger });
    return {
      component: sink,
      busy: async () => ({ settled: sink.send([{ ...message, topic: topics.telemetry }]) }),
      call: () => sink.send([{ ...message, topic: topics.telemetry }]),
    };
  });
});

describe("the pipelines' runner", () => {
  let group = 0;
  lifecycleContract(
    () => {
      let entered: (() => void) | undefined;
      let left: (() => void) | undefined;
      const runner = telemetryRunner(pipelineTopic, `life-group-${(group += 1)}-${Date.now()}`, {
        handler: {
          async handle() {
            entered?.();
            // A handler still at work when stop() comes: stop waits for it (finalize after delivery).
            await new Promise((resolve) => setTimeout(resolve, 300));
            left?.();
          },
        },
      });
      return {
        component: runner,
        busy: async () => {
          const inHandler = new Promise<void>((resolve) => (entered = resolve));
          const handled = new Promise<void>((resolve) => (left = resolve));
          await produce(kafka, pipelineTopic, [record("life-1", 1)]);
          await inHandler;
          return { settled: handled };
        },
      };
    },
    { busy: true },
  );
});
