export { Batcher, type BatcherHooks, type BatcherOptions } from "./batcher.ts";
export { type ForwarderConfig, ForwarderConfigSchema } from "./config.ts";
export { decodePublish } from "./decode.ts";
export { createForwarder, type Forwarder, type ForwarderDeps, type ForwarderHooks } from "./forwarder.ts";
