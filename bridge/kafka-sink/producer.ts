/**
 * The sink's one idempotent producer (acks=all, maxInFlightRequests=1, Java-compatible partitioner), replaced by a
 * new one whenever its topic metadata or sequence state cannot be trusted any more.
 */
import type { Kafka, Producer } from "kafkajs";
import { javaCompatiblePartitioner } from "../../common/kafka/partitions.ts";
import type { Logger } from "../../common/log.ts";

/** A message as the sink sends it (sink.ts' OutMessage): what sameBatch compares. */
interface SentMessage {
  topic: string;
  key: string;
  value: string | Buffer;
}

/** Whether two sends carry the same records in the same order (a batch retried unchanged). */
export function sameBatch(a: readonly SentMessage[], b: readonly SentMessage[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.topic !== y.topic || x.key !== y.key) return false;
    const same =
      typeof x.value === "string" || typeof y.value === "string" ? x.value === y.value : x.value.equals(y.value);
    if (!same) return false;
  }
  return true;
}

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
  /**
   * Before a send: after a failed send, only that same batch may go on this producer; anything else gets a new one
   * (see `unsettled` below).
   */
  beforeSend(messages: readonly SentMessage[]): void;
  /** After a send: `failed` = Kafka may or may not have written it. */
  afterSend(messages: readonly SentMessage[], failed: boolean): void;
  /** Disconnects the producer held, if any; errors are swallowed (stopping). */
  close(): Promise<void>;
}

export function createProducerSlot(kafka: Pick<Kafka, "producer">, logger: Logger): ProducerSlot {
  let producer: Producer | undefined;
  let stale = false;
  /**
   * The messages of the last send that failed. Kafka may have written them without our hearing so, and kafkajs then
   * rolled the partitions' sequence numbers back: the next batch on this producer reuses them. Only the same batch
   * may go next (the broker recognises it and answers with the first write's offsets); a different one of the same
   * size would be taken for that duplicate, answered with the old offsets and never written (docs/bridge.md, "The
   * idempotent producer's sequence numbers"). So anything else gets a new producer (new id, sequences from 0).
   */
  let unsettled: readonly SentMessage[] | undefined;

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
      unsettled = undefined;
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
    beforeSend(messages) {
      if (unsettled && !sameBatch(unsettled, messages)) stale = true;
    },
    afterSend(messages, failed) {
      unsettled = failed ? messages : undefined;
    },
    async close() {
      const held = producer;
      producer = undefined;
      await held?.disconnect().catch(() => undefined);
    },
  };
}
