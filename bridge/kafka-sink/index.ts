export { type KafkaSinkConfig, KafkaSinkConfigSchema, type KafkaTopics, KafkaTopicsSchema } from "./config.ts";
export { createKafkaSink, type Delivery, type KafkaSink, type OutMessage } from "./sink.ts";
