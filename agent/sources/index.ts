/**
 * The agent's sources: serial GPS (NMEA) and serial CAN adapters, plus the port probe `doctor` uses. The interface to
 * the rest of the agent is types.ts.
 */
export { type CanSource, type CanSourceConfig, CanSourceConfigSchema, createCanSource } from "./can/index.ts";
export { createGpsSource, type GpsSource, type GpsSourceConfig, GpsSourceConfigSchema } from "./gps/index.ts";
export {
  ADAPTER_BAUD_RATES,
  describeAdapter,
  listSerialCandidates,
  type ProbeOptions,
  type ProbeResult,
  probeSerialPort,
} from "./probe/index.ts";
export { SerialLineConfigSchema } from "./serial/config.ts";
export {
  createSerialLineSource,
  type OpenPort,
  type PortLike,
  type SerialLineCounters,
  type SerialLineSource,
} from "./serial/serial-line-source.ts";
export * from "./types.ts";
