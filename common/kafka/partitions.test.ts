import fc from "fast-check";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { describe, expect, it } from "vitest";
import { javaCompatiblePartitioner, KeyPartitioner, murmur2 } from "./partitions.ts";

const metadata = (count: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe("javaCompatiblePartitioner", () => {
  it("chooses kafkajs' DefaultPartitioner's partition for every key (strings in any script, bytes)", () => {
    const theirs = Partitioners.DefaultPartitioner();
    const ours = javaCompatiblePartitioner();
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), fc.uint8Array({ maxLength: 80 }).map(Buffer.from)),
        fc.integer({ min: 1, max: 64 }),
        (key, partitions) => {
          const args = { topic: "t", partitionMetadata: metadata(partitions), message: { key, value: "v" } };
          expect(ours(args)).toBe(theirs(args));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("computes Kafka's murmur2 (the Java client's values for known keys)", () => {
    // org.apache.kafka.common.utils.UtilsTest.testMurmur2
    expect(murmur2("21")).toBe(-973932308);
    expect(murmur2("foobar")).toBe(-790332482);
    expect(murmur2("a-little-bit-long-string")).toBe(-985981536);
    expect(murmur2("a-little-bit-longer-string")).toBe(-1486304829);
    expect(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")).toBe(-58897971);
    expect(murmur2(Buffer.from("abc"))).toBe(479470107);
  });

  it("keeps a message's own partition, and spreads keyless messages over the partitions with a leader", () => {
    const choose = javaCompatiblePartitioner();
    const partitionMetadata = metadata(4, [1]);
    expect(choose({ topic: "t", partitionMetadata, message: { key: "k", partition: 3, value: "v" } })).toBe(3);
    const chosen = new Set<number>();
    for (let i = 0; i < 30; i += 1) chosen.add(choose({ topic: "t", partitionMetadata, message: { value: "v" } }));
    expect([...chosen].sort()).toEqual([0, 2, 3]);
  });

  it("KeyPartitioner puts a truck id where the producer's partitioner would", () => {
    const choose = javaCompatiblePartitioner();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        const expected = choose({ topic: "t", partitionMetadata: metadata(partitions), message: { key, value: "v" } });
        expect(new KeyPartitioner("t", partitions).partitionOf(key)).toBe(expected);
      }),
    );
  });
});
