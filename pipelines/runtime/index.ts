/**
 * pipelines/runtime: what every pipeline stands on. A consumer group over the contract's topics with protocol/'s
 * validation and in-order filter, batch handlers, commit after handling, an optional offset store (exactly once),
 * metrics and health routes, and the group rewind behind `fleetsync replay`. The only pipelines folder that uses the
 * Kafka client, which it takes (connection settings included) from common/kafka, as the bridge does.
 */
export {
  parsePipelineRuntimeConfig,
  type PipelineRuntimeConfig,
  type PipelineRuntimeConfigInput,
  PipelineRuntimeConfigSchema,
  warnTopicsLeftAtDefault,
} from "./config.ts";
export { decodeKafkaValue } from "./decode.ts";
export { closeServer, createOpsServer, type OpsServer, opsRoute, requestPath } from "./http.ts";
export { createPipelineMetrics, type PipelineMetrics } from "./metrics.ts";
export { createPipelineRunner, type PipelineRunner, type PipelineRunnerDeps } from "./runner.ts";
export type * from "./types.ts";
