/**
 * common/kafka: the one folder that owns the Kafka client (kafkajs 2.2.4) for the bridge and the pipelines: the
 * connection settings and client construction, TLS/SASL settings and how a refusal reads (security.ts), the record-encoder fast path, error classification, per-message
 * offsets, reading a topic to its end and the Java-compatible partitioner. Code elsewhere imports kafkajs types only (erased at build).
 * The client decision (keep kafkajs, measured against @platformatic/kafka) is in docs/bridge.md.
 */
export {
  cliKafkaConnection,
  createKafkaClient,
  KAFKA_CONFIG_ENV,
  type KafkaClientOptions,
  type KafkaConnection,
  KafkaConnectionFields,
  KafkaConnectionSchema,
  type KafkaConnectionSettings,
} from "./connection.ts";
export {
  type KafkaSasl,
  type KafkaSecurity,
  type KafkaTls,
  kafkaFailure,
  kafkaSecurityFailure,
  resolveKafkaSecurity,
} from "./security.ts";
export { classifyKafkaError, type KafkaErrorKind, kafkaErrorTypes } from "./errors.ts";
export { type FastPathState, fastPath } from "./kafkajs-fast-path.ts";
export { messageHeaderText, messageText, messageTimestampMs } from "./record-batch.ts";
export { type Delivery, deliveredEach, OffsetBook } from "./offsets.ts";
export { deleteConsumerGroup, lastOffsets, readToEnd, type ReadToEndOptions, whenReadTo } from "./read-to-end.ts";
export { javaCompatiblePartitioner, KeyPartitioner } from "./partitions.ts";
