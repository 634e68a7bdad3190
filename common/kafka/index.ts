/**
 * common/kafka: the one folder that owns the Kafka client (kafkajs 2.2.4) for the bridge and the pipelines: the
 * connection settings and client construction, the record-encoder fast path, error classification, per-message
 * offsets and the Java-compatible partitioner. Code elsewhere imports kafkajs types only (erased at build).
 * The client decision (keep kafkajs, measured against @platformatic/kafka) is in docs/bridge.md.
 */
export {
  createKafkaClient,
  type KafkaClientOptions,
  type KafkaConnection,
  KafkaConnectionFields,
} from "./connection.ts";
export { classifyKafkaError, type KafkaErrorKind, kafkaErrorTypes } from "./errors.ts";
export { type FastPathState, fastPath } from "./kafkajs-fast-path.ts";
export { type Delivery, deliveredEach, OffsetBook } from "./offsets.ts";
export { javaCompatiblePartitioner, KeyPartitioner, partitionMetadata } from "./partitions.ts";
