export { type HttpConfig, HttpConfigSchema } from "./config.ts";
export { createHttpServer, type HttpServer } from "./http.ts";
export { type BridgeMetrics, createMetrics } from "./metrics.ts";
