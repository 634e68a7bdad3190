/**
 * `fleetsync detect`: the "intelligence" pipeline (group fleetsync-detect). Reads fleet.telemetry, fleet.events
 * and fleet.status through the pipeline runtime (validation, in-order filter), runs the five detectors on each
 * truck's records in event time, and writes alert changes to fleet.alerts. Every batch commits its alerts, the
 * touched trucks' state and the consumer position in a Kafka transaction (checkpoint.ts), which the runtime's
 * offset store hook reads back on assignment: a crash, a restart or a rebalance resumes exactly at a checkpoint.
 * The silent-truck detector is a wall-clock sweep (silent.ts says why).
 */
import type { AddressInfo } from "node:net";
import { Counter, Gauge } from "prom-client";
import { type Logger, silentLogger } from "../../common/log.ts";
import type { Alert } from "../../protocol/alerts.ts";
import { parsePipelineRuntimeConfig } from "../runtime/config.ts";
import { createOpsServer, type OpsServer } from "../runtime/http.ts";
import { createPipelineRunner, type PipelineRunner } from "../runtime/runner.ts";
import type {
  OffsetStore,
  PipelineHandler,
  RecordKind,
  StoredPosition,
  StreamedRecordBatch,
} from "../runtime/types.ts";
import { type Checkpoint, createCheckpoint } from "./checkpoint.ts";
import type { DetectConfig } from "./config.ts";
import { createDetectEngine, type DetectEngine } from "./engine.ts";
import { type Geofence, loadGeofences } from "./geo.ts";

export interface DetectService {
  readonly runner: PipelineRunner;
  /** Loads the geofences, creates the alerts and changelog topics when missing, joins the group. */
  start(): Promise<void>;
  /** Finishes the batch in hand, stops the sweep, leaves the group. Idempotent. */
  stop(): Promise<void>;
  /** The detectors' state (for tests and the benchmark); undefined before start. */
  engine(): DetectEngine | undefined;
  address(): AddressInfo | undefined;
}

export interface DetectServiceDeps {
  logger?: Logger;
  /** Geofences (default: read from config.detectors.geofence.file, if any). */
  fences?: Geofence[];
  /** Called with the alerts of every committed checkpoint (the CLI prints them). */
  onAlerts?(alerts: Alert[]): void;
  /** The sweep's clock (default Date.now). */
  now?(): number;
  /** The checkpoint (default: Kafka transactions, checkpoint.ts); a test wraps the real one to make commits fail. */
  checkpoint?: Checkpoint;
}

export function createDetectService(config: DetectConfig, deps: DetectServiceDeps = {}): DetectService {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const checkpoint: Checkpoint = deps.checkpoint ?? createCheckpoint(config, logger.child({ part: "checkpoint" }));
  const kindOf = new Map<string, RecordKind>([
    [config.topics.telemetry, "telemetry"],
    [config.topics.events, "events"],
    [config.topics.status, "status"],
  ]);
  let engine: DetectEngine | undefined;
  /**
   * Group commit: batches of different partitions that arrive while a transaction is in flight are planned and
   * committed together in the next one (a transaction is several round trips; one per batch made Kafka's latency
   * the pipeline's pace). Planning happens here, one group at a time, so a plan always starts from the state the
   * previous group left. The silent sweep is a group of its own: its plans and a batch's may touch the same truck.
   */
  type Item = { batch: StreamedRecordBatch } | { sweep: (partition: number) => boolean };
  const queue: { item: Item; done: () => void; failed: (error: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;

  function enqueue(item: Item): Promise<void> {
    return new Promise<void>((done, failed) => {
      queue.push({ item, done, failed });
      flushing ??= flush();
    });
  }

  async function flush(): Promise<void> {
    // Yield a macrotask, not a microtask: kafkajs hands the batches of one fetch to eachBatch together, and each
    // reaches `handle` only after its decode and a few awaits. Started at once, the first batch's transaction left
    // the fetch's other batches for a second transaction, and the next fetch waits for both (two commits per fetch
    // in `npm run bench:detect`). After setImmediate the whole fetch is queued and commits as one group.
    // (Also: `flushing` is set before this can finish and clear it.)
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      await flushQueue();
    } finally {
      flushing = undefined;
    }
  }

  async function flushQueue(): Promise<void> {
    while (queue.length > 0) {
      const first = queue[0]!;
      const group = "sweep" in first.item ? queue.splice(0, 1) : takeBatches();
      let committing = false;
      try {
        const plans = group.flatMap(({ item }) =>
          "batch" in item ? [engine!.plan(item.batch)] : engine!.sweep(now(), item.sweep),
        );
        committing = true;
        if (plans.length > 0) await checkpoint.commit(plans);
        committing = false;
        for (const plan of plans) {
          engine!.apply(plan);
          for (const alert of plan.alerts) alerts.inc({ detector: alert.detector, state: alert.state });
          if (plan.droppedDtcs > 0) droppedDtcs.inc(plan.droppedDtcs);
          if (plan.alerts.length > 0) deps.onAlerts?.(plan.alerts);
        }
        for (const g of group) g.done();
      } catch (error) {
        // Nothing was applied, but a failed commit may still have reached Kafka (its answer lost, or EndTxn retried
        // after it went through): memory no longer knows which checkpoint is current. So the group's partitions drop
        // their state, the changelog is read afresh, and the runtime's retry of each batch loads its partition from
        // there (offsetStore.load): state and position of the last checkpoint that really committed, never an
        // alert lost (the batch planned again from an older state) or written twice (from the newer one).
        if (committing) checkpointFailures.inc();
        for (const { item } of group) if ("batch" in item) engine!.drop(item.batch.kind, item.batch.partition);
        checkpoint.forgetRestore();
        for (const g of group) g.failed(error);
      }
    }
  }

  function takeBatches() {
    const end = queue.findIndex((q) => "sweep" in q.item);
    return queue.splice(0, end < 0 ? queue.length : end);
  }

  const handler: PipelineHandler = {
    // Records parsed only when planned: a fetch's batches wait here for the group's transaction, and held parsed
    // they were most of detect's garbage collection (docs/pipelines.md, "detect").
    streaming: true,
    handle: (batch) => enqueue({ batch }),
    revoked(partitions) {
      for (const { topic, partition } of partitions) {
        const kind = kindOf.get(topic);
        if (kind) engine?.drop(kind, partition);
      }
    },
    assigned() {
      checkpoint.forgetRestore();
    },
  };

  const offsetStore: OffsetStore = {
    // The checkpoint's transaction commits the group's offsets (sendOffsets); a plain commit beside it could set
    // them back behind the changelog's position (runtime/types.ts).
    commitsGroupOffsets: true,
    async load(topic, partition): Promise<StoredPosition | undefined> {
      const kind = kindOf.get(topic);
      if (!kind || !engine) return undefined;
      const held = engine.position(kind, partition);
      if (held) return kind === "status" ? { nextOffset: held.nextOffset } : held;
      const restored = await checkpoint.restore(kind, partition);
      if (!restored) {
        engine.drop(kind, partition);
        return undefined;
      }
      engine.restore(kind, partition, restored.nextOffset, restored.trucks);
      logger.info({ topic, partition, trucks: restored.trucks.size }, "detector state restored");
      const position = engine.position(kind, partition)!;
      return kind === "status" ? { nextOffset: position.nextOffset } : position;
    },
  };

  const runner = createPipelineRunner(
    parsePipelineRuntimeConfig({
      name: "detect",
      groupId: config.groupId,
      kafka: config.kafka,
      topics: { telemetry: config.topics.telemetry, events: config.topics.events, status: config.topics.status },
      fromBeginning: config.fromBeginning,
      maxBytesPerPartition: config.fetchBytes,
      // Partitions side by side: their batches share transactions (group commit above).
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
    }),
    { handler, offsetStore, logger },
  );
  const alerts = new Counter({
    name: "fleetsync_detect_alerts_total",
    help: "Alert changes written to the alerts topic, by detector and state.",
    labelNames: ["detector", "state"] as const,
    registers: [runner.metrics.registry],
  });
  const checkpointFailures = new Counter({
    name: "fleetsync_detect_checkpoint_failures_total",
    help: "Checkpoint transactions that failed; their partitions are read again from the last checkpoint.",
    registers: [runner.metrics.registry],
  });
  const droppedDtcs = new Counter({
    name: "fleetsync_detect_dtcs_dropped_total",
    help: "Trouble codes not tracked because their truck already had the maximum open.",
    registers: [runner.metrics.registry],
  });
  new Gauge({
    name: "fleetsync_detect_trucks",
    help: "Trucks whose detector state this member holds (per topic partition).",
    registers: [runner.metrics.registry],
    collect() {
      this.set(engine?.size() ?? 0);
    },
  });
  const ops: OpsServer = createOpsServer(config.http, {
    registry: runner.metrics.registry,
    ready: () => runner.ready(),
    logger,
  });

  /** Whether a partition held in memory was read to `end` (one with no records to read counts as read). */
  function readTo(kind: RecordKind, partition: number, end: { low: bigint; high: bigint } | undefined): boolean {
    if (end === undefined) return false;
    const next = engine!.nextOffset(kind, partition);
    return next === undefined ? end.high <= end.low : BigInt(next) >= end.high;
  }

  async function sweep(): Promise<void> {
    if (!engine || !runner.ready()) return;
    const [ends, statusEnds] = await Promise.all([
      checkpoint.endOffsets(config.topics.telemetry),
      checkpoint.endOffsets(config.topics.status),
    ]);
    // Whether a truck left by its own will is in fleet.status, read beside telemetry: right after a start or a
    // rebalance, telemetry can be read to its end (or restored) before the status partitions are, and a truck that
    // said goodbye would be called silent. So no sweep until every status partition this member holds is read to
    // where it ended when the sweep began.
    const statusRead = runner
      .assignment()
      .filter((tp) => tp.topic === config.topics.status)
      .every((tp) => readTo("status", tp.partition, statusEnds.get(tp.partition)));
    if (!statusRead) return;
    await enqueue({
      sweep(partition) {
        return (
          engine!.nextOffset("telemetry", partition) !== undefined &&
          readTo("telemetry", partition, ends.get(partition))
        );
      },
    });
  }

  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;
  let stopping: Promise<void> | undefined;
  return {
    runner,
    async start() {
      const file = config.detectors.geofence.file;
      const fences = deps.fences ?? (file ? await loadGeofences(file, config.detectors.geofence.dwellMinutes) : []);
      engine = createDetectEngine({
        detectors: config.detectors,
        fences,
        maxTrucksPerPartition: config.maxTrucksPerPartition,
        evictAfterMs: config.evictAfterHours * 3_600_000,
      });
      await checkpoint.start();
      try {
        await ops.start();
        await runner.start();
      } catch (error) {
        await Promise.allSettled([ops.stop(), checkpoint.stop()]);
        throw error;
      }
      timer = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        sweep()
          .catch((error: unknown) => logger.warn({ err: error }, "silent sweep failed; the next one tries again"))
          .finally(() => {
            sweeping = false;
          });
      }, config.detectors.silent.sweepIntervalMs);
      timer.unref();
      logger.info({ fences: fences.length }, "detect started");
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        await runner.stop();
        await flushing;
        await Promise.allSettled([ops.stop(), checkpoint.stop()]);
      })();
      return stopping;
    },
    engine: () => engine,
    address: () => ops.address(),
  };
}
