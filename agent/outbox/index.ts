export { type OutboxConfig, type OutboxConfigInput, OutboxConfigSchema } from "./config.ts";
export { createLevelStore } from "./level-store.ts";
// The bodies are protocol/'s (the contract); re-exported because the outbox is where they are stored.
export type { ChannelBody, ChannelRecord, EventBody, TelemetryBody } from "../../protocol/index.ts";
export type { GapInfo, GapReason } from "./gaps.ts";
export { createOutbox } from "./outbox.ts";
export type { ChannelStats, Outbox, OutboxDeps, OutboxStats } from "./types.ts";
export { createMemoryStore, type OutboxStore, type StoreOp, type StoreRange } from "./store.ts";
