/**
 * Which partition a key goes to: kafkajs' DefaultPartitioner, which is the Java client's murmur2 partitioner
 * (design, promise 2: Java, Go and Kafka Streams consumers agree; test/integration/partitioner.test.ts checks it
 * against the Java client).
 */
// First, as everywhere in this folder: the fast path must replace kafkajs' modules before kafkajs loads them.
import "./kafkajs-fast-path.ts";
import { type PartitionMetadata, Partitioners } from "kafkajs";

/** The producer's partitioner factory (kafkajs' `createPartitioner` option): the Java client's murmur2. */
export const javaCompatiblePartitioner = Partitioners.DefaultPartitioner;

/** What kafkajs' DefaultPartitioner needs to know of a topic with `count` partitions: their ids. */
export function partitionMetadata(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [],
    isr: [],
  }));
}

const MAX_CACHED_KEYS = 200_000;

/** One topic's key -> partition map for a known partition count. */
export class KeyPartitioner {
  private readonly metadata: PartitionMetadata[];
  /** Each key's partition, computed once (keys are truck ids). Capped: when full, cleared and refilled. */
  private readonly byKey = new Map<string, number>();
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    readonly topic: string,
    readonly count: number,
  ) {
    this.metadata = partitionMetadata(count);
  }

  partitionOf(key: string): number {
    let partition = this.byKey.get(key);
    if (partition === undefined) {
      partition = this.partitioner({
        topic: this.topic,
        partitionMetadata: this.metadata,
        message: { key, value: null },
      });
      if (this.byKey.size >= MAX_CACHED_KEYS) this.byKey.clear();
      this.byKey.set(key, partition);
    }
    return partition;
  }
}
