/**
 * `fleetsync history`: the cold pipeline (group fleetsync-history). Every telemetry record and event, after the
 * protocol's validation and in-order filter, goes into PostgreSQL exactly once: the store writes each batch with
 * its consumer position in one transaction, and the runtime seeks to that stored position on every assignment.
 *
 * Bounded by construction: the runtime hands one batch per partition (capped by `fetchBytes`) and, while the
 * handler throws, retries that batch with a backoff instead of fetching more. So a database outage grows the
 * group's lag in Kafka, not this process's memory, and touches no other pipeline (each has its own group).
 */
import type { AddressInfo } from "node:net";
import { Counter } from "prom-client";
import { isFleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import { parsePipelineRuntimeConfig } from "../runtime/config.ts";
import { createOpsServer, type OpsServer } from "../runtime/http.ts";
import { createPipelineRunner, type PipelineRunner } from "../runtime/runner.ts";
import type { PipelineHandler } from "../runtime/types.ts";
import type { HistoryConfig } from "./config.ts";
import { createHistoryStore, type HistoryStore } from "./store.ts";

export interface HistoryService {
  readonly runner: PipelineRunner;
  readonly store: HistoryStore;
  /** Migrates the schema, starts the ops server and joins the group. */
  start(): Promise<void>;
  /** Finishes the batch in hand, leaves the group, closes the database and the ops server. Idempotent. */
  stop(): Promise<void>;
  /** Why the service is not ready (database down, not in the group), or undefined when it is. */
  notReadyReason(): string | undefined;
  address(): AddressInfo | undefined;
}

export interface HistoryServiceDeps {
  logger?: Logger;
}

export function createHistoryService(config: HistoryConfig, deps: HistoryServiceDeps = {}): HistoryService {
  const logger = deps.logger ?? silentLogger;
  const store = createHistoryStore(config.database, config.groupId, logger.child({ part: "database" }));
  let databaseDown: string | undefined;

  const markDatabase = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (databaseDown === undefined) logger.error({ err: error }, "history database unavailable");
    databaseDown = message;
  };
  const markUp = () => {
    if (databaseDown !== undefined) logger.info("history database available again");
    databaseDown = undefined;
  };

  const handler: PipelineHandler = {
    async handle(batch) {
      try {
        const result = await store.write(batch);
        rows.inc({ table: batch.kind, result: "inserted" }, result.inserted);
        if (result.existing > 0) rows.inc({ table: batch.kind, result: "existing" }, result.existing);
        markUp();
      } catch (error) {
        if (isFleetError(error, "FLEET_DATABASE")) markDatabase(error);
        throw error;
      }
    },
  };

  const runner = createPipelineRunner(
    parsePipelineRuntimeConfig({
      name: "history",
      groupId: config.groupId,
      kafka: config.kafka,
      topics: config.topics,
      fromBeginning: config.fromBeginning,
      maxBytesPerPartition: config.fetchBytes,
      partitionsConsumedConcurrently: config.database.connections,
      retry: config.retry,
    }),
    { handler, offsetStore: store, logger },
  );
  const rows = new Counter({
    name: "fleetsync_history_rows_total",
    help: "Rows written to the history database, by table and result (inserted, existing: already there).",
    labelNames: ["table", "result"] as const,
    registers: [runner.metrics.registry],
  });
  const ops: OpsServer = createOpsServer(config.http, {
    registry: runner.metrics.registry,
    ready: () => runner.ready(),
    notReadyReason: () => notReadyReason(),
    logger,
  });

  let probe: NodeJS.Timeout | undefined;
  let probing = false;
  function startProbe(): void {
    probe = setInterval(() => {
      if (probing) return;
      probing = true;
      store
        .probe()
        .then(markUp, markDatabase)
        .finally(() => {
          probing = false;
        });
    }, config.database.probeIntervalMs);
    probe.unref();
  }

  function notReadyReason(): string | undefined {
    if (databaseDown !== undefined) return `database unavailable: ${databaseDown}`;
    if (!runner.ready()) return "not in the consumer group";
    return undefined;
  }

  let stopping: Promise<void> | undefined;
  return {
    runner,
    store,
    async start() {
      try {
        const version = await store.migrate();
        logger.info({ schemaVersion: version }, "history schema ready");
        await ops.start();
        await runner.start();
      } catch (error) {
        await Promise.allSettled([ops.stop(), store.close()]);
        throw error;
      }
      startProbe();
    },
    stop() {
      stopping ??= (async () => {
        if (probe) clearInterval(probe);
        await runner.stop();
        await Promise.allSettled([ops.stop(), store.close()]);
      })();
      return stopping;
    },
    notReadyReason,
    address: () => ops.address(),
  };
}
