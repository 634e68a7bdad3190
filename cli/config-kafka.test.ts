import type { Kafka } from "kafkajs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readWhole } from "./config-kafka.ts";

/** A Kafka double whose topic has records but whose consumer cannot subscribe (a topic deleted in between, say). */
function kafkaFailingToSubscribe(): { kafka: Kafka; disconnected: () => boolean; deletedGroups: string[] } {
  let disconnected = false;
  const deletedGroups: string[] = [];
  const kafka = {
    admin: () => ({
      connect: async () => {},
      listTopics: async () => ["fleet.config"],
      fetchTopicOffsets: async () => [{ partition: 0, high: "3", low: "0", offset: "3" }],
      deleteGroups: async (ids: string[]) => {
        deletedGroups.push(...ids);
      },
      disconnect: async () => {},
    }),
    consumer: () => ({
      connect: async () => {},
      on: () => () => {},
      events: { END_BATCH_PROCESS: "consumer.end_batch_process" },
      subscribe: async () => {
        throw new Error("This server does not host this topic-partition");
      },
      run: async () => {},
      disconnect: async () => {
        disconnected = true;
      },
    }),
  } as unknown as Kafka;
  return { kafka, disconnected: () => disconnected, deletedGroups };
}

describe("readWhole", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a failed subscribe rejects with its cause and leaves no timer and no group behind", async () => {
    vi.useFakeTimers();
    const { kafka, disconnected, deletedGroups } = kafkaFailingToSubscribe();
    await expect(readWhole(kafka, "fleet.config", () => {}, 30_000)).rejects.toThrow(/does not host/);
    expect(disconnected()).toBe(true);
    // A timer left armed would keep `fleetsync config` alive for its whole timeout after the error was printed.
    expect(vi.getTimerCount()).toBe(0);
    expect(deletedGroups).toEqual([expect.stringMatching(/^fleetsync-config\.fleet\.config\./)]);
  });
});
