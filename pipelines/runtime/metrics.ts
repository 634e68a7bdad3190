/**
 * A pipeline's Prometheus metrics (prom-client), in a registry of its own so several pipelines (tests, the demo)
 * live in one process. Every series carries the pipeline's name.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createPipelineMetrics(pipeline: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ pipeline });
  collectDefaultMetrics({ register: registry, prefix: "fleetsync_pipeline_" });
  return {
    registry,
    records: new Counter({
      name: "fleetsync_pipeline_records_total",
      help: "Kafka records read, by topic and result: kept, duplicate, late, stale-stream (in-order filter), invalid.",
      labelNames: ["topic", "result"] as const,
      registers: [registry],
    }),
    gaps: new Counter({
      name: "fleetsync_pipeline_gap_records_total",
      help: "Records the in-order filter found missing (seq jumps: the truck's outbox dropped them), by topic.",
      labelNames: ["topic"] as const,
      registers: [registry],
    }),
    batches: new Counter({
      name: "fleetsync_pipeline_batches_total",
      help: "Batches given to the handler, by result (ok, failed; a failed batch is delivered again).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: "fleetsync_pipeline_errors_total",
      help: "Errors by FLEET_ code.",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: "fleetsync_pipeline_handler_seconds",
      help: "Time the handler took for one batch.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    lag: new Gauge({
      name: "fleetsync_pipeline_consumer_lag",
      help: "Records behind the partition's end after the last batch, per topic and partition.",
      labelNames: ["topic", "partition"] as const,
      registers: [registry],
    }),
    rebalances: new Counter({
      name: "fleetsync_pipeline_rebalances_total",
      help: "Group joins (each assignment after a rebalance).",
      registers: [registry],
    }),
  };
}

export type PipelineMetrics = ReturnType<typeof createPipelineMetrics>;
