import { describe, expect, it } from "vitest";
import { classifyKafkaError, kafkaErrorTypes } from "./errors.ts";

const typed = (type: string, extra: object = {}) => Object.assign(new Error(`broker: ${type}`), { type }, extra);

describe("Kafka error classification", () => {
  it("reads kafkajs error types along causes and aggregated errors, not message text", () => {
    const wrapped = Object.assign(new Error("retries exhausted"), { cause: typed("UNKNOWN_PRODUCER_ID") });
    expect(classifyKafkaError(wrapped)).toMatchObject({ producerFatal: true, metadataSuspect: false });
    const aggregate = Object.assign(new Error("Topic creation errors"), {
      errors: [typed("TOPIC_ALREADY_EXISTS"), typed("TOPIC_ALREADY_EXISTS")],
    });
    expect(classifyKafkaError(aggregate).topicExists).toBe(true);
    // The words alone mean nothing: only the type counts.
    expect(classifyKafkaError(new Error("Topic with this name already exists")).topicExists).toBe(false);
    expect(classifyKafkaError({ name: "KafkaJSMetadataNotLoaded" })).toMatchObject({ topicMissing: true });
  });

  it("stops on a cycle of causes", () => {
    const a = typed("LEADER_NOT_AVAILABLE") as Error & { cause?: unknown };
    a.cause = a;
    expect(kafkaErrorTypes(a).length).toBeLessThanOrEqual(32);
    expect(classifyKafkaError(a).metadataSuspect).toBe(true);
  });
});
