/**
 * Per-message offsets for a kafkajs produce. kafkajs reports one base offset per partition written, not one offset
 * per message; a message's offset is its partition's base offset + its index among the batch's messages for that
 * partition (Kafka assigns a produce request's records consecutive offsets per partition, KIP-98 record batches).
 */
import type { RecordMetadata } from "kafkajs";

export interface Delivery {
  topic: string;
  partition: number;
  offset: string;
}

/** Whether Kafka named a real place (partition, offset >= 0) for each of `count` messages. */
export function deliveredEach(deliveries: readonly Delivery[], count: number): boolean {
  if (deliveries.length !== count) return false;
  for (const delivery of deliveries) {
    if (!(delivery.partition >= 0) || !/^\d+$/.test(delivery.offset)) return false;
  }
  return true;
}

const placeKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Remembers each message's (topic, partition, index) as a batch is built, then turns the response into offsets. */
export class OffsetBook {
  private readonly places: { topic: string; partition: number; index: number }[] = [];
  private readonly counters = new Map<string, number[]>();

  /** The next message of the batch goes to `topic`/`partition`. */
  add(topic: string, partition: number): void {
    let counters = this.counters.get(topic);
    if (!counters) {
      counters = [];
      this.counters.set(topic, counters);
    }
    const index = counters[partition] ?? 0;
    counters[partition] = index + 1;
    this.places.push({ topic, partition, index });
  }

  /**
   * Each message's delivery, in the order added; `unanswered` names the topic/partitions the response gave no
   * offset for (kafkajs resolves a send as success when it skipped a partition it knows no leader for).
   */
  deliveries(result: readonly RecordMetadata[]): { deliveries: Delivery[]; unanswered: string[] } {
    const base = new Map<string, bigint>();
    for (const entry of result) {
      const offset = entry.errorCode === 0 ? (entry.baseOffset ?? entry.offset) : undefined;
      if (offset !== undefined) base.set(placeKey(entry.topicName, entry.partition), BigInt(offset));
    }
    const deliveries: Delivery[] = new Array(this.places.length);
    const unanswered = new Set<string>();
    for (let i = 0; i < this.places.length; i += 1) {
      const { topic, partition, index } = this.places[i]!;
      const first = base.get(placeKey(topic, partition));
      if (first === undefined || first < 0n) unanswered.add(`${topic}/${partition}`);
      else deliveries[i] = { topic, partition, offset: String(first + BigInt(index)) };
    }
    return { deliveries, unanswered: [...unanswered] };
  }
}
