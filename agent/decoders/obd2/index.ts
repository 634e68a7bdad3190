/** OBD-II (SAE J1979 over ISO 15765-4) reply decoding without I/O. */
export { createObdDecoder, type ObdCounters, type ObdDecoder, obdDtc } from "./decoder.ts";
