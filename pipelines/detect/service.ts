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
import type { OffsetStore, PipelineHandler, RecordKind, StoredPosition } from "../runtime/types.ts";
import { type Checkpoint, createCheckpoint } from "./checkpoint.ts";
import type { DetectConfig } from "./config.ts";
import { createDetectEngine, type DetectEngine, type Plan } from "./engine.ts";
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

/** Batches the open group may hold before `handle` waits for the transaction in flight: about four fetches. */
const MAX_OPEN_BATCHES = 32;

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
   * Commits overlapped with reading (docs/pipelines.md, "detect"). A batch is planned and applied to memory at once
   * and its plan joins the open group; the group commits as one transaction (alerts, states, positions, the group's
   * offsets) once the transaction before it has committed: at most one in flight, the next begun only after it.
   * `handle` resolves at once while the open group is under MAX_OPEN_BATCHES, else when the transaction in flight
   * has ended, so kafkajs fetches and this process plans the next fetches while the previous one commits (one
   * transaction per fetch made each fetch wait for several round trips). A batch that reached its partition's end
   * waits for its own commit: nothing more to read.
   *
   * Memory runs ahead of Kafka by at most one group (bounded by the cap). If a commit fails, nothing of the lost groups may stay: every
   * partition's state is dropped and the runtime rewinds every partition to the checkpoint (`runner.rewind`), whose
   * load restores the state from the changelog, and the records are handled again from there.
   */
  interface Group {
    plans: Plan[];
    done: Promise<void>;
    finish(): void;
  }
  let open: Group | undefined;
  let committing: Group | undefined;
  let scheduled = false;
  /** Partitions rewound after a failed commit: their next load trusts the changelog's position (checkpoint.ts). */
  const rewinding = new Set<string>();

  function newGroup(): Group {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    return { plans: [], done, finish };
  }

  /** Applies plans to memory and queues them for the next transaction; the group they joined. */
  function add(plans: Plan[]): Group {
    for (const plan of plans) engine!.apply(plan);
    const group = (open ??= newGroup());
    group.plans.push(...plans);
    schedule();
    return group;
  }

  function schedule(): void {
    if (committing || scheduled || !open) return;
    scheduled = true;
    // A macrotask, not a microtask: kafkajs hands the batches of one fetch to eachBatch together, and each reaches
    // `handle` only after its decode and a few awaits. Begun at once, the transaction would carry the fetch's first
    // batch and leave the others for a second one.
    setImmediate(() => {
      scheduled = false;
      void commitNext();
    });
  }

  async function commitNext(): Promise<void> {
    if (committing || !open) return;
    const group = (committing = open);
    open = undefined;
    try {
      await checkpoint.commit(group.plans);
      for (const plan of group.plans) {
        for (const alert of plan.alerts) alerts.inc({ detector: alert.detector, state: alert.state });
        if (plan.droppedDtcs > 0) droppedDtcs.inc(plan.droppedDtcs);
        if (plan.alerts.length > 0) deps.onAlerts?.(plan.alerts);
      }
    } catch (error) {
      rewind(error);
    } finally {
      committing = undefined;
      group.finish();
      schedule();
    }
  }

  /** After a failed commit: memory and every partition's position back to the checkpoint (the class comment). */
  function rewind(error: unknown): void {
    logger.warn({ err: error }, "detect checkpoint failed: every partition is read again from the checkpoint");
    checkpointFailures.inc();
    const lost = open;
    open = undefined;
    // Synchronously from here to runner.rewind(): no batch is planned on the dropped state meanwhile.
    for (const kind of ["telemetry", "events", "status"] as const) {
      for (const partition of engine!.partitions(kind)) {
        engine!.drop(kind, partition);
        rewinding.add(`${kind}/${partition}`);
      }
    }
    for (const { topic, partition } of runner.assignment()) rewinding.add(`${kindOf.get(topic)}/${partition}`);
    checkpoint.forgetRestore();
    runner.rewind();
    // Their batches are read again (the runtime dropped their positions): nothing of them is kept.
    lost?.finish();
  }

  /** Resolves once nothing planned is left uncommitted (or given up after a failure). */
  async function settled(): Promise<void> {
    for (let group = committing ?? open; group; group = committing ?? open) await group.done;
  }

  const handler: PipelineHandler = {
    handle(batch) {
      const group = add([engine!.plan(batch)]);
      if (batch.atEnd) return group.done;
      // Reading goes on while the open group is small: a transaction that takes longer than a fetch no longer stalls
      // the reader; past the cap the batch waits for the transaction in flight (memory ahead of Kafka is bounded).
      return group.plans.length < MAX_OPEN_BATCHES ? undefined : committing?.done;
    },
    settled,
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
    commitsGroupOffsets: true,
    async load(topic, partition): Promise<StoredPosition | undefined> {
      const kind = kindOf.get(topic);
      if (!kind || !engine) return undefined;
      const held = engine.position(kind, partition);
      if (held) return kind === "status" ? { nextOffset: held.nextOffset } : held;
      const afterFailure = rewinding.delete(`${kind}/${partition}`);
      const restored = await checkpoint.restore(kind, partition, afterFailure);
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
    help: "Checkpoint transactions that failed; each rewinds every partition to the last committed checkpoint.",
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
    const plans = engine.sweep(
      now(),
      (partition) =>
        engine!.nextOffset("telemetry", partition) !== undefined && readTo("telemetry", partition, ends.get(partition)),
    );
    if (plans.length > 0) await add(plans).done;
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
        await settled();
        await Promise.allSettled([ops.stop(), checkpoint.stop()]);
      })();
      return stopping;
    },
    engine: () => engine,
    address: () => ops.address(),
  };
}
