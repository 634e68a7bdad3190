/**
 * The sink's one idempotent producer (acks=all, maxInFlightRequests=1, Java-compatible partitioner), replaced by a
 * new one whenever its topic metadata or sequence state cannot be trusted any more.
 */
import type { Kafka, Producer } from "kafkajs";
import { javaCompatiblePartitioner } from "../../common/kafka/partitions.ts";
import type { Logger } from "../../common/log.ts";

export interface ProducerSlot {
  /**
   * A connected producer whose metadata and sequence state can be trusted: a stale one is replaced. The slot holds
   * a producer only once connected, so a connect that failed (Kafka down) is tried again on the next call.
   */
  get(): Promise<Producer>;
  /** Whether a connected producer is held. */
  readonly connected: boolean;
  /** The next get() starts a new producer (after a fatal sequence error or a topic metadata change). */
  markStale(): void;
  /** Disconnects the producer held, if any; errors are swallowed (stopping). */
  close(): Promise<void>;
}

export function createProducerSlot(kafka: Pick<Kafka, "producer">, logger: Logger): ProducerSlot {
  let producer: Producer | undefined;
  let stale = false;

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: javaCompatiblePartitioner,
      allowAutoTopicCreation: false,
    });

  return {
    async get() {
      if (producer && !stale) return producer;
      const old = producer;
      producer = undefined;
      stale = false;
      if (old) {
        logger.warn("recreating the idempotent producer (topic metadata or sequence state changed)");
        await old.disconnect().catch(() => undefined);
      }
      const fresh = newProducer();
      try {
        await fresh.connect();
      } catch (error) {
        await fresh.disconnect().catch(() => undefined);
        throw error;
      }
      producer = fresh;
      return fresh;
    },
    get connected() {
      return producer !== undefined;
    },
    markStale() {
      stale = true;
    },
    async close() {
      const held = producer;
      producer = undefined;
      await held?.disconnect().catch(() => undefined);
    },
  };
}
