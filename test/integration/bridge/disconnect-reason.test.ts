/**
 * The offline status record says whether the truck left by its own will: reason `disconnected` only after an MQTT
 * DISCONNECT. A connection that just closes (a SIGKILLed agent's socket, closed by the kernel with a plain FIN: no
 * DISCONNECT, no socket error) is a loss, and the silent-truck detector must be able to tell it from a goodbye.
 * Real MQTT clients over TCP, a real bridge, real Kafka.
 */
import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEAN_DISCONNECT_REASON, StatusRecordSchema } from "../../../protocol/records.ts";
import { deleteTopics, kafkaBrokers, readUntil, testKafka } from "../../support/kafka.ts";
import {
  bridgeConfig,
  byKey,
  connectTruck,
  startBridge,
  type TestTopics,
  testTopics,
  type Workspace,
  workspace,
} from "./harness.ts";

const GOODBYE = "reason-goodbye-1";
const CUT = "reason-cut-1";

describe("offline status reason", () => {
  let space: Workspace;
  let kafka: Kafka;
  let topics: TestTopics;

  beforeAll(async () => {
    space = await workspace([GOODBYE, CUT]);
    kafka = testKafka("disconnect-reason-test");
    topics = testTopics("reason");
  });

  afterAll(async () => {
    if (topics) await deleteTopics(kafka, Object.values(topics));
    await space?.remove();
  });

  it("is `disconnected` for a DISCONNECT and a loss for a connection that just closed", async () => {
    const { bridge, port } = await startBridge(
      bridgeConfig({ brokers: kafkaBrokers(), topics, credentialsFile: space.credentialsFile }),
    );
    try {
      const goodbye = await connectTruck(port, GOODBYE);
      const cut = await connectTruck(port, CUT, { reconnectPeriod: 0 });
      await goodbye.endAsync();
      // What the kernel does for a killed process: the socket ends (FIN), and the client sends nothing more.
      cut.stream.destroy();
      const offline = (records: Parameters<typeof byKey>[0], truckId: string) =>
        byKey(records, truckId)
          .map((r) => StatusRecordSchema.parse(JSON.parse(r.value!)))
          .find((s) => s.state === "offline");
      const records = await readUntil(
        kafka,
        topics.status,
        (r) => offline(r, GOODBYE) !== undefined && offline(r, CUT) !== undefined,
        "both trucks' offline status",
        30_000,
      );
      cut.end(true);
      expect(offline(records, GOODBYE)?.reason).toBe(CLEAN_DISCONNECT_REASON);
      expect(offline(records, CUT)?.reason).toBeDefined();
      expect(offline(records, CUT)?.reason).not.toBe(CLEAN_DISCONNECT_REASON);
    } finally {
      await bridge.stop();
    }
  });
});
