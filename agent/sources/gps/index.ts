export { type GpsSourceConfig, GpsSourceConfigSchema } from "./config.ts";
export { createGpsSource, type GpsSource } from "./gps-source.ts";
