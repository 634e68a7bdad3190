export { type CanSource, createCanSource, elmProtocolFor } from "./can-source.ts";
export { type CanSourceConfig, CanSourceConfigSchema } from "./config.ts";
export { type CanInterface, listenOnlyCommand } from "./interfaces.ts";
