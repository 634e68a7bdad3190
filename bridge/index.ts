/** bridge/: the cloud side. listener -> auth -> forwarder -> Kafka sink, plus metrics and health endpoints. */
export { type Bridge, type BridgeDeps, createBridge } from "./bridge.ts";
export {
  type BridgeConfig,
  type BridgeConfigInput,
  BridgeConfigSchema,
  loadBridgeConfig,
  parseBridgeConfig,
} from "./config.ts";
export { setTruckSecret } from "./auth/index.ts";
