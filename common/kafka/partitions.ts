/**
 * Which partition a key goes to: the Java client's default partitioner (murmur2 of the key bytes, positive, modulo
 * the partition count; a message's own `partition` first; keyless messages round robin over the partitions with a
 * leader), which kafkajs' DefaultPartitioner also implements (design, promise 2: Java, Go and Kafka Streams consumers
 * agree; test/integration/partitioner.test.ts checks ours against the Java client, partitions.test.ts against
 * kafkajs').
 *
 * Ours, not kafkajs': kafkajs 2.2.4 computes murmur2 with its Long class, several Long objects per four bytes of key,
 * about 3 µs per keyed message against 0.12 µs with 32-bit integer arithmetic here. The detect checkpoint keys every
 * alert and every state write (about 100,000 keys in one catch-up of `npm run bench:detect`, 8 % of detect's CPU).
 */
// First, as everywhere in this folder: the fast path must replace kafkajs' modules before kafkajs loads them.
import "./kafkajs-fast-path.ts";
import { randomBytes } from "node:crypto";
import type { ICustomPartitioner, PartitionerArgs } from "kafkajs";

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of the key's bytes, as a signed 32-bit int. */
export function murmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes (the Java code's switch, falling through from case 3 to case 1).
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const toPositive = (x: number) => x & 0x7fffffff;

/** The producer's partitioner factory (kafkajs' `createPartitioner` option): kafkajs' DefaultPartitioner, faster. */
export const javaCompatiblePartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) {
      return toPositive(murmur2(message.key)) % partitionMetadata.length;
    }
    const next = (counters.get(topic) ?? randomBytes(4).readUInt32BE(0)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[toPositive(next) % available.length]!.partitionId;
    return toPositive(next) % partitionMetadata.length;
  };
};

/** One topic's key -> partition for a known partition count (the bridge assigns partitions itself: sink.ts). */
export class KeyPartitioner {
  constructor(
    readonly topic: string,
    readonly count: number,
  ) {}

  partitionOf(key: string): number {
    return toPositive(murmur2(key)) % this.count;
  }
}
