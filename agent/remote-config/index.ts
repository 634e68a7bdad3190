export { type RemoteConfigSettings, RemoteConfigSettingsSchema } from "./config.ts";
export { type AgentHost, type AgentHostDeps, createAgentHost, overlayFile } from "./host.ts";
export { type MergeResult, mergeOverlay } from "./merge.ts";
export { loadOverlay, saveOverlay } from "./store.ts";
