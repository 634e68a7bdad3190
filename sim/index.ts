/**
 * sim/: simulated trucks and the verifier, as a library for tests, the demo and benchmarks (the `fleetsync sim`
 * and `fleetsync verify` commands are thin wrappers).
 */

export { type DeviceFleetOptions, DeviceFleetOptionsSchema } from "./devices/config.ts";
export {
  createDeviceFleet,
  type DeviceFleet,
  type DeviceInfo,
  type DeviceKind,
  type DeviceStats,
} from "./devices/device-fleet.ts";
export { createElm327Adapter, type Elm327Adapter, type ElmStatus } from "./devices/elm327-adapter.ts";
export { createPtyPair, type PtyPair } from "./devices/pty-pair.ts";
export { createSlcanAdapter, type SlcanAdapter, type SlcanStatus } from "./devices/slcan-adapter.ts";
export { type CanFrame, j1939Frame, j1939Id, type TimedFrame } from "./j1939/frame.ts";
export { createJ1939Generator, type J1939Generator, type J1939GeneratorOptions } from "./j1939/generator.ts";
export * from "./j1939/pgns.ts";
export { bamFrames } from "./j1939/transport.ts";
export { candumpLine, type ElmFormat, elmMonitorLine, slcanLine } from "./lines/encoders.ts";
export { type LoadOptions, LoadOptionsSchema } from "./load/config.ts";
export { createLoadRun, type LoadRun, type LoadStats, type LoadSummary } from "./load/load-run.ts";
export { type TruckModelOptions, TruckModelOptionsSchema } from "./model/config.ts";
export { FAULT_CATALOG } from "./model/faults.ts";
export * as powertrain from "./model/powertrain.ts";
export { createPrng, type Prng } from "./model/prng.ts";
export type { GnssState, Phase, TruckState } from "./model/state.ts";
export { createTruckModel, type TruckModel } from "./model/truck.ts";
export { type NmeaOptions, nmeaChecksum, nmeaSentence, nmeaSentences, type Talker } from "./nmea/writer.ts";
export { type RecordIds, telemetryRecord } from "./record.ts";
export {
  createTruckSim,
  type NmeaEpoch,
  STEP_MS,
  type TruckOutput,
  type TruckSim,
  type TruckSimOptions,
} from "./truck-sim.ts";
export {
  type AnnouncedGap,
  type Checker,
  type CheckerSummary,
  createChecker,
  type TruckReport,
} from "./verify/checker.ts";
export { runVerify, type VerifyOptions, type VerifySummary } from "./verify/verify.ts";
