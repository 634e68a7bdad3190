/** Decoders without I/O: NMEA epochs, CAN line formats, J1939 and OBD-II. `decode`, `doctor` and the sources share them. */
export * from "./can/index.ts";
export { type CanDecoder, createCanDecoder } from "./can-decoder.ts";
export * from "./j1939/index.ts";
export * from "./nmea/index.ts";
export * from "./obd2/index.ts";
export type { CanMessage, EngineSignals, GpsFix, J1939Message, ObdMessage } from "./types.ts";
