/** pipelines/detect: detectors that raise alerts (group fleetsync-detect -> fleet.alerts), replayable exactly. */
export {
  type DetectConfig,
  type DetectConfigInput,
  DetectConfigSchema,
  loadDetectConfig,
  parseDetectConfig,
} from "./config.ts";
export { type Checkpoint, createCheckpoint } from "./checkpoint.ts";
export { createDetectEngine, type DetectEngine, type TruckEntry } from "./engine.ts";
export { contains, distanceM, type Geofence, loadGeofences, parseGeofences } from "./geo.ts";
export { createDetectService, type DetectService, type DetectServiceDeps } from "./service.ts";
