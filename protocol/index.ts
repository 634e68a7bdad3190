/** protocol/: the one place FleetSync's contracts are written down. Agent, bridge and tools import from here. */

export * from "./bodies.ts";
export * from "./codec.ts";
export * from "./confirm.ts";
export * from "./in-order.ts";
export * from "./kafka.ts";
export * from "./records.ts";
export * from "./remote-config.ts";
export * from "./schema.ts";
export * from "./topics.ts";
export * from "./truck-id.ts";
