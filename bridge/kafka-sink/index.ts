export { type KafkaSinkConfig, KafkaSinkConfigSchema, type KafkaTopics, KafkaTopicsSchema } from "./config.ts";
export { createProducerSlot, type ProducerSlot } from "./producer.ts";
export { createReadiness, type Readiness, type SinkHealth } from "./readiness.ts";
export { createKafkaSink, type Delivery, type KafkaSink, type KafkaSinkDeps, type OutMessage } from "./sink.ts";
export { createTopicAdmin, type KafkaSinkHooks, type TopicAdmin } from "./topics.ts";
