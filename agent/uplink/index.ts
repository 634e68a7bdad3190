export { backoffDelay } from "./backoff.ts";
export { type UplinkConfig, UplinkConfigSchema } from "./config.ts";
export type { ConnectMqtt, MqttPort } from "./mqtt-port.ts";
export { createUplink } from "./uplink.ts";
export type { AgentStatusFields, Uplink, UplinkDeps, UplinkStats } from "./types.ts";
