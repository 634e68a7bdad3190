export { type Clock, scaledClock, systemClock } from "./clock.ts";
export { type StateConfig, StateConfigSchema } from "./config.ts";
export type { GnssTimeCounters } from "./gnss-time.ts";
export { toGps } from "./rounding.ts";
export { createVehicleState, type VehicleState, type VehicleStateDeps } from "./state.ts";
