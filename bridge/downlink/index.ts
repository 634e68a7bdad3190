export { type DownlinkConfig, DownlinkConfigSchema } from "./config.ts";
export { DesiredConfigs, type DesiredUpdate } from "./desired.ts";
export { createDownlink, type Downlink, type DownlinkDeps } from "./downlink.ts";
export { ensureConfigTopic, lastOffsets, whenReadTo } from "./topic.ts";
