/** SAE J1939 decoding without I/O: identifiers, the signals FleetSync records, transport (BAM, RTS/CTS) reassembly. */
export { createJ1939Decoder, type J1939Counters, type J1939Decoder } from "./decoder.ts";
export { type J1939Id, parseJ1939Id } from "./id.ts";
export { decodeDm1, PGN, PGN_DEFS } from "./signals.ts";
export {
  createTransportReassembler,
  TRANSPORT_DEFAULTS,
  type TransportCounters,
  type TransportOptions,
} from "./transport.ts";
