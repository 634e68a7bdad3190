export { backoffDelay } from "./backoff.ts";
export { type UplinkConfig, UplinkConfigSchema } from "./config.ts";
export { createUplink, type Uplink, type UplinkDeps, type UplinkStats } from "./uplink.ts";
