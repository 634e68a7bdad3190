/**
 * The live map: a pipeline (group fleetsync-map) that folds telemetry, events and the compacted status and latest
 * topics into the fleet's latest state, and the web server that shows it. A restart shows the fleet at once: the runtime starts
 * telemetry and events at the last `historyMs` of records (or earlier, after a replay) and status from its start.
 */
import type { AddressInfo } from "node:net";
import { type Logger, silentLogger } from "../../common/log.ts";
import { parsePipelineRuntimeConfig } from "../runtime/config.ts";
import { createPipelineRunner, type PipelineRunner } from "../runtime/runner.ts";
import type { PipelineHandler, RecordBatch, TopicPartition } from "../runtime/types.ts";
import type { MapConfig } from "./config.ts";
import { createMapServer, type MapServer } from "./server.ts";
import { createFleetState, type FleetState } from "./state.ts";

export interface MapService {
  readonly state: FleetState;
  readonly runner: PipelineRunner;
  start(): Promise<void>;
  /** Closes browsers and the web server, then leaves the group. Idempotent. */
  stop(): Promise<void>;
  address(): AddressInfo | undefined;
  /** The page's URL (with the token when there is one). */
  url(): string;
}

export interface MapServiceDeps {
  logger?: Logger;
}

export function createMapService(config: MapConfig, deps: MapServiceDeps = {}): MapService {
  const logger = deps.logger ?? silentLogger;
  const state = createFleetState(config);

  const handler: PipelineHandler = {
    handle(batch: RecordBatch) {
      switch (batch.kind) {
        case "telemetry":
          // With its partition, so a revoked partition's trucks leave this member's map.
          for (const d of batch.records) state.applyTelemetry(d.record, d.kafkaTimestamp, batch.partition);
          break;
        case "events":
          for (const d of batch.records) state.applyEvent(d.record);
          break;
        case "status":
          for (const d of batch.records) state.applyStatus(d.record);
          break;
        case "alerts":
          for (const d of batch.records) state.applyAlert(d.record);
          break;
        case "latest":
          for (const d of batch.records) state.applyLatest(d.record, d.kafkaTimestamp);
          break;
      }
    },
    revoked(partitions: TopicPartition[]) {
      const lost = new Set(partitions.filter((p) => p.topic === config.topics.telemetry).map((p) => p.partition));
      state.remove(state.trucksFrom(lost));
    },
  };

  const runner = createPipelineRunner(
    parsePipelineRuntimeConfig({
      name: "map",
      groupId: config.groupId,
      kafka: config.kafka,
      topics: config.topics,
      historyMs: config.historyMs,
      statusFromEarliest: true,
      // A new map group starts with the history window, not at the topics' start.
      fromBeginning: false,
      // One batch at a time: the handler only updates memory on this one thread, so batches side by side gain
      // nothing, and their decoded records all stay alive together. With 4 at once, V8 promoted 700 bytes per record
      // out of its young generation against 400 with 1 (`npm run bench:map`'s catch-up, --trace-gc-nvp).
      partitionsConsumedConcurrently: 1,
    }),
    { handler, logger },
  );
  const server: MapServer = createMapServer(config, {
    state,
    registry: runner.metrics.registry,
    ready: () => runner.ready(),
    logger: logger.child({ part: "web" }),
  });
  let stopping: Promise<void> | undefined;

  return {
    state,
    runner,
    async start() {
      await server.start();
      try {
        await runner.start();
      } catch (error) {
        await server.stop();
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await server.stop();
        await runner.stop();
      })();
      return stopping;
    },
    address: () => server.address(),
    url() {
      const address = server.address();
      const host = address?.family === "IPv6" ? `[${address.address}]` : (address?.address ?? config.http.host);
      const token = config.http.token ? `?token=${encodeURIComponent(config.http.token)}` : "";
      return `http://${host}:${address?.port ?? config.http.port}/${token}`;
    },
  };
}
