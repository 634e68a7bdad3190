export { listSerialCandidates, type ProbeOptions, type ProbeResult, probeSerialPort } from "./probe.ts";
