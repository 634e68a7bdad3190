/**
 * What a kafkajs error means for the caller, read from the error types kafkajs attaches (the broker's error code
 * names, e.g. UNKNOWN_TOPIC_OR_PARTITION), never from message text: kafkajs wraps a broker error in retry errors
 * (`cause`) and a per-topic failure in an aggregate (`errors`), so the whole tree is walked.
 */

/** kafkajs error types after which the idempotent producer's sequence state cannot be trusted: start a new one. */
const PRODUCER_FATAL = new Set(["OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID", "INVALID_PRODUCER_EPOCH"]);
/** kafkajs errors that mean our idea of a topic (exists, partition count) may be wrong: look again. */
const METADATA_SUSPECT = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE"]);

interface ErrorLike {
  type?: unknown;
  name?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The kafkajs error types in an error, its causes and its aggregated errors (bounded: a cycle cannot loop). */
export function kafkaErrorTypes(error: unknown): string[] {
  const types: string[] = [];
  const todo: unknown[] = [error];
  for (let seen = 0; todo.length > 0 && seen < 32; seen += 1) {
    const e = todo.shift() as ErrorLike | undefined;
    if (!e || typeof e !== "object") continue;
    if (typeof e.type === "string") types.push(e.type);
    // Thrown by the producer when it has no metadata for a topic at all: the topic is unknown to it.
    if (e.name === "KafkaJSMetadataNotLoaded") types.push("UNKNOWN_TOPIC_OR_PARTITION");
    if (e.cause !== undefined) todo.push(e.cause);
    if (Array.isArray(e.errors)) todo.push(...(e.errors as unknown[]));
  }
  return types;
}

export interface KafkaErrorKind {
  /** The idempotent producer must be replaced before the next send. */
  producerFatal: boolean;
  /** Topic metadata (existence, partition count) may be out of date. */
  metadataSuspect: boolean;
  /** The topic does not exist. */
  topicMissing: boolean;
  /** Every failure is "the topic exists already" (another bridge created it first). */
  topicExists: boolean;
}

export function classifyKafkaError(error: unknown): KafkaErrorKind {
  const types = kafkaErrorTypes(error);
  return {
    producerFatal: types.some((type) => PRODUCER_FATAL.has(type)),
    metadataSuspect: types.some((type) => METADATA_SUSPECT.has(type)),
    topicMissing: types.includes("UNKNOWN_TOPIC_OR_PARTITION"),
    topicExists: types.length > 0 && types.every((type) => type === "TOPIC_ALREADY_EXISTS"),
  };
}
