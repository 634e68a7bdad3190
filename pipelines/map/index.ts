/** pipelines/map: the live fleet map (group fleetsync-map): fleet state, per-browser coalescing, page and socket. */
export { createClientQueue, type DeltaMessage, type SnapshotMessage } from "./coalesce.ts";
export { loadMapConfig, type MapConfig, type MapConfigInput, MapConfigSchema, parseMapConfig } from "./config.ts";
export { createMapService, type MapService, type MapServiceDeps } from "./service.ts";
export { createFleetState, type FeedEntry, type FleetState, type TruckCondition, type TruckView } from "./state.ts";
