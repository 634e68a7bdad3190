export {
  ADAPTER_BAUD_RATES,
  describeAdapter,
  listSerialCandidates,
  type ProbeOptions,
  type ProbeResult,
  probeSerialPort,
} from "./probe.ts";
export {
  type AdapterIdentity,
  ELM_IDENTITY_QUERIES,
  ELM_IDLE,
  SLCAN_CLOSE,
  SLCAN_SERIAL_QUERY,
  SLCAN_VERSION_QUERY,
  STN_DEVICE_QUERY,
} from "./ask.ts";
