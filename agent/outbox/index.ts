export { type OutboxConfig, type OutboxConfigInput, OutboxConfigSchema } from "./config.ts";
export { createLevelStore } from "./level-store.ts";
export {
  type ChannelBody,
  type ChannelRecord,
  type ChannelStats,
  createOutbox,
  type EventBody,
  type GapInfo,
  type Outbox,
  type OutboxDeps,
  type OutboxStats,
  type TelemetryBody,
} from "./outbox.ts";
export { createMemoryStore, type OutboxStore, type StoreOp, type StoreRange } from "./store.ts";
