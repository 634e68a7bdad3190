/**
 * The consumer-group runner every pipeline stands on (the only place a pipeline touches the Kafka client):
 * fetch -> validate (protocol/'s schemas) -> in-order filter (protocol/, per topic partition) -> handler(batch)
 * -> commit. The design's rules for consumers, in one place:
 * - offsets are committed only after the handler finished with the batch (finalize after delivery): a crash
 *   repeats at most the batches in hand (at least once);
 * - a pipeline that must apply each record once supplies an OffsetStore: on assignment the runner seeks to the
 *   stored position and restores the filter from it, whatever Kafka's committed offset says (exactly once); a store
 *   that commits the group's offsets in its own transactions gets every batch and no runner commits (types.ts);
 * - a rebalance resets every partition's filter (another member may have read it meanwhile) and tells the handler
 *   which partitions it lost, so it can release their state;
 * - a record that does not validate is counted, logged with topic/partition/offset and skipped: another producer's
 *   mistake never stops a pipeline;
 * - a handler that throws gets the same batch again after a bounded exponential backoff; nothing of it is
 *   committed, and the partition's filter is rebuilt so the redelivered records are not taken for duplicates.
 *   Whether to try again is the error's `retriable` flag (common/errors.ts), never its message: a FleetError whose
 *   code is not retriable (FLEET_SCHEMA_NEWER, FLEET_CONFIG_INVALID, ...) cannot succeed on the same batch, so the
 *   partition is paused with nothing of the batch committed and the runner reports not ready until it is restarted
 *   (after the fix, the batch comes again). An error that is not a FleetError counts as FLEET_PIPELINE_HANDLER,
 *   which is retriable: a handler's unknown failure is taken for a passing one, as before.
 */
import type { Admin, Consumer, EachBatchPayload } from "kafkajs";
import { FleetError, isFleetError } from "../../common/errors.ts";
import { createKafkaClient } from "../../common/kafka/connection.ts";
import { messageHeaderText, messageText, messageTimestampMs } from "../../common/kafka/record-batch.ts";
import { kafkaFailure } from "../../common/kafka/security.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import { createInOrderFilter, type InOrderFilter } from "../../protocol/in-order.ts";
import { KAFKA_HEADERS } from "../../protocol/kafka.ts";
import type { PipelineRuntimeConfig } from "./config.ts";
import { decodeKafkaText } from "./decode.ts";
import { createPipelineMetrics, type PipelineMetrics } from "./metrics.ts";
import type {
  Delivered,
  OffsetStore,
  PipelineHandler,
  RecordBatch,
  RecordKind,
  StoredPosition,
  StreamedRecordBatch,
  TopicPartition,
} from "./types.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";

export interface PipelineRunnerDeps {
  handler: PipelineHandler;
  offsetStore?: OffsetStore;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

export interface PipelineRunner extends Lifecycle {
  readonly metrics: PipelineMetrics;
  /** Connects, joins the group and starts consuming; resolves once consuming has begun. */
  start(): Promise<void>;
  /** Finishes the batch in hand (its commit included), leaves the group, disconnects. Idempotent. */
  stop(): Promise<void>;
  /**
   * True once the consumer joined its group, until it crashes or stops, or a partition is paused after a handler
   * error that retrying cannot fix (`halted()`).
   */
  ready(): boolean;
  /** Partitions paused after a non-retriable handler error, with its code; empty while all is well. */
  halted(): Array<TopicPartition & { code: string }>;
  /** The partitions this member holds now. */
  assignment(): TopicPartition[];
}

interface PartitionState {
  kind: RecordKind;
  filter: InOrderFilter | undefined;
  /** Resolves once the start position is chosen (and sought); the offset the first batch must start at. */
  positioned: Promise<string | undefined>;
  aligned: boolean;
  failures: number;
}

/** A partition paused after a non-retriable handler error: the error, for the logs and `halted()`. */
type Halted = Map<string, { topic: string; partition: number; code: string }>;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** How often a pipeline looks again for an optional topic (alerts, latest) that did not exist at its start. */
const OPTIONAL_TOPIC_CHECK_MS = 5_000;

export function createPipelineRunner(config: PipelineRuntimeConfig, deps: PipelineRunnerDeps): PipelineRunner {
  const logger = (deps.logger ?? silentLogger).child({ pipeline: config.name });
  const metrics = deps.metrics ?? createPipelineMetrics(config.name);
  const kindOf = new Map<string, RecordKind>();
  for (const kind of ["telemetry", "events", "status", "alerts", "latest"] as const) {
    const topic = config.topics[kind];
    if (topic !== undefined) kindOf.set(topic, kind);
  }
  /** The store commits the group's offsets in its own transactions; the runner must not (types.ts says why). */
  const ownGroupOffsets = deps.offsetStore?.commitsGroupOffsets === true;
  const kafka = createKafkaClient({ ...config.kafka, clientId: config.kafka.clientId ?? config.groupId });
  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    maxBytesPerPartition: config.maxBytesPerPartition,
    maxWaitTimeInMs: 100,
  });
  const admin: Admin = kafka.admin();
  let partitions = new Map<string, PartitionState>();
  let joined = false;
  const halted: Halted = new Map();
  const life = new LifecycleGuard(`pipeline ${config.name}`);
  const sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  /** Batches being handled now, and who waits for them to finish (stop). */
  let inFlight = 0;
  let whenIdle: (() => void) | undefined;
  /** The next offset of each partition's last handled batch, not committed yet. */
  const handled = new Map<string, { topic: string; partition: number; offset: string }>();
  let lastCommit = 0;
  /** Commits what an idle pipeline handled last, once the interval has passed. */
  let commitTimer: NodeJS.Timeout | undefined;
  // A failed commit is not lost work: the records are read again after a restart (at least once).
  const commitFailed = (error: unknown) => logger.warn({ err: error }, "offset commit failed");
  /** The periodic commits, one after another (never two at once, so a partition's offset never goes back). */
  let committing: Promise<void> = Promise.resolve();

  const newFilter = (kind: RecordKind) =>
    kind === "status" || kind === "alerts" || kind === "latest"
      ? undefined
      : createInOrderFilter({ maxTrucks: config.inOrder.maxTrucks });

  function count(error: FleetError): void {
    metrics.errors.inc({ code: error.code });
  }

  /** The offset a partition starts at after an assignment, or undefined for Kafka's own (committed) position. */
  async function startOffset(tp: TopicPartition, state: PartitionState): Promise<string | undefined> {
    if (deps.offsetStore) return loadStored(deps.offsetStore, tp, state);
    // Compacted topics: their whole content is the current state of every truck.
    if ((state.kind === "status" || state.kind === "latest") && config.statusFromEarliest) {
      const offsets = await admin.fetchTopicOffsets(tp.topic);
      return offsets.find((o) => o.partition === tp.partition)?.low;
    }
    if (state.kind !== "status" && state.kind !== "latest" && config.historyMs > 0) {
      const [byTime, committed] = await Promise.all([
        admin.fetchTopicOffsetsByTimestamp(tp.topic, Date.now() - config.historyMs),
        admin.fetchOffsets({ groupId: config.groupId, topics: [tp.topic] }),
      ]);
      const at = byTime.find((o) => o.partition === tp.partition)?.offset;
      const mine = committed[0]?.partitions.find((p) => p.partition === tp.partition)?.offset;
      if (at === undefined) return undefined;
      // The earlier of the two: a restart rebuilds the recent past; a group rewound further (replay) keeps its rewind.
      if (mine === undefined || BigInt(mine) < 0n) return at;
      return BigInt(mine) < BigInt(at) ? mine : at;
    }
    return undefined;
  }

  async function loadStored(store: OffsetStore, tp: TopicPartition, state: PartitionState) {
    const stored = await store.load(tp.topic, tp.partition);
    if (stored === undefined) return undefined;
    if (stored.filter && state.filter) state.filter.restore(stored.filter);
    return stored.nextOffset;
  }

  function position(tp: TopicPartition, state: PartitionState): Promise<string | undefined> {
    return startOffset(tp, state).then(
      (offset) => {
        if (offset !== undefined) consumer.seek({ ...tp, offset });
        return offset;
      },
      (error: unknown) => {
        // Without a chosen start the partition reads from its committed offset: logged, never silently different.
        const err = new FleetError("FLEET_KAFKA", `cannot choose the start of ${tp.topic}/${tp.partition}`, {
          cause: error,
        });
        count(err);
        logger.error({ err, ...tp }, "start position lookup failed; reading from the committed offset");
        return undefined;
      },
    );
  }

  function onAssignment(assignment: Record<string, number[]>): void {
    metrics.rebalances.inc();
    const next = new Map<string, PartitionState>();
    const added: TopicPartition[] = [];
    for (const [topic, list] of Object.entries(assignment)) {
      const kind = kindOf.get(topic);
      if (!kind) continue;
      for (const partition of list) {
        const state: PartitionState = {
          kind,
          filter: newFilter(kind),
          positioned: Promise.resolve(undefined),
          aligned: false,
          failures: 0,
        };
        state.positioned = position({ topic, partition }, state);
        next.set(key(topic, partition), state);
        added.push({ topic, partition });
      }
    }
    const revoked = [...partitions.keys()].filter((k) => !next.has(k)).map(parseKey);
    for (const k of handled.keys()) if (!next.has(k)) handled.delete(k);
    partitions = next;
    joined = true;
    logger.info({ assigned: added.length, revoked: revoked.length }, "partitions assigned");
    if (revoked.length > 0) void Promise.resolve(deps.handler.revoked?.(revoked)).catch(hookFailed("revoked"));
    void Promise.all([...next.values()].map((s) => s.positioned)).then(() =>
      Promise.resolve(deps.handler.assigned?.(added)).catch(hookFailed("assigned")),
    );
  }

  const hookFailed = (hook: string) => (error: unknown) => logger.error({ err: error, hook }, "handler hook failed");

  /**
   * A batch's kept records, decoded and filtered one at a time as they are read; the tally reaches the metrics when
   * the reading ends. `filter` is the partition's filter when the batch was fetched (a failure replaces the state's).
   */
  function* decodeBatch(
    batch: EachBatchPayload["batch"],
    kind: RecordKind,
    filter: InOrderFilter | undefined,
  ): Generator<Delivered<unknown>, void, undefined> {
    const topic = batch.topic;
    const tally = { kept: 0, duplicate: 0, late: 0, "stale-stream": 0, invalid: 0, missing: 0 };
    try {
      // kafkajs already leaves out messages below the fetched offset (a compressed batch can start earlier).
      for (const message of batch.messages) {
        const decoded = decodeKafkaText(kind, messageText(message));
        if (!decoded.ok) {
          tally.invalid += 1;
          count(decoded.error);
          logger.warn(
            { err: decoded.error, topic, partition: batch.partition, offset: message.offset },
            "invalid record skipped",
          );
          continue;
        }
        const delivered: Delivered<unknown> = {
          record: decoded.record,
          offset: message.offset,
          kafkaTimestamp: messageTimestampMs(message),
        };
        // A null header value is no time (it used to be a TypeError that failed the batch again and again).
        const receivedAt = messageHeaderText(message, KAFKA_HEADERS.receivedAt);
        if (receivedAt !== undefined) delivered.receivedAt = receivedAt;
        if (filter) {
          const verdict = filter.accept(decoded.record as { truckId: string; stream: string; seq: number });
          if (!verdict.keep) {
            tally[verdict.reason] += 1;
            continue;
          }
          if (verdict.gap) {
            delivered.gap = verdict.gap;
            tally.missing += verdict.gap.count;
          }
        }
        tally.kept += 1;
        yield delivered;
      }
    } finally {
      for (const result of ["kept", "duplicate", "late", "stale-stream", "invalid"] as const) {
        if (tally[result] > 0) metrics.records.inc({ topic, result }, tally[result]);
      }
      if (tally.missing > 0) metrics.gaps.inc({ topic }, tally.missing);
    }
  }

  /**
   * The records of a batch for a streaming handler: one pass, decoded as read, so each parsed record is garbage as
   * soon as the handler moved on. `position()` before the pass ended would miss the filter's decisions on the rest.
   */
  function streamedRecords(records: Generator<Delivered<unknown>, void, undefined>) {
    let started = false;
    let ended = false;
    const iterable: Iterable<Delivered<unknown>> = {
      *[Symbol.iterator]() {
        if (started) throw new FleetError("FLEET_PIPELINE_HANDLER", "a streamed batch's records can be read once");
        started = true;
        yield* records;
        ended = true;
      },
    };
    return { iterable, ended: () => ended };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    // Stopping: leave the batch unread; it comes again after the restart (nothing of it was committed).
    if (life.closed) return;
    inFlight += 1;
    try {
      await handleBatch(payload);
    } finally {
      inFlight -= 1;
      if (inFlight === 0) whenIdle?.();
    }
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const tp = { topic: batch.topic, partition: batch.partition };
    const state = partitions.get(key(tp.topic, tp.partition));
    if (!state) return; // not (or no longer) ours: the next assignment brings it back with a fresh state
    if (halted.has(key(tp.topic, tp.partition))) return; // batches of the same fetch, after the pause
    const start = await state.positioned;
    if (!payload.isRunning() || payload.isStale()) return;
    const fetchedOffset = (batch as unknown as { fetchedOffset: string }).fetchedOffset;
    if (!state.aligned) {
      // The first batch after a seek must come from the sought offset; one fetched before the seek is dropped unread.
      if (start !== undefined && fetchedOffset !== start) return;
      state.aligned = true;
    }
    if (batch.isEmpty()) return;
    const last = batch.lastOffset();
    const nextOffset = (BigInt(last) + 1n).toString();
    const filter = state.filter;
    const decoding = decodeBatch(batch, state.kind, filter);
    const positionAfter = (trucks?: Iterable<string>): StoredPosition =>
      filter ? { nextOffset, filter: filter.snapshot(trucks) } : { nextOffset };
    const handler = deps.handler;
    const began = process.hrtime.bigint();
    try {
      if (handler.streaming === true) {
        const records = streamedRecords(decoding);
        await handler.handle({
          kind: state.kind,
          ...tp,
          records: records.iterable,
          position(trucks?: Iterable<string>): StoredPosition {
            if (!records.ended()) {
              throw new FleetError(
                "FLEET_PIPELINE_HANDLER",
                "a streamed batch's position is known once read to its end",
              );
            }
            return positionAfter(trucks);
          },
        } as StreamedRecordBatch);
      } else {
        const records = [...decoding];
        const typed = {
          kind: state.kind,
          ...tp,
          records,
          position: positionAfter,
        } as RecordBatch;
        if (records.length > 0 || ownGroupOffsets) await handler.handle(typed);
      }
    } catch (error) {
      await handlerFailed(error, tp, state, fetchedOffset);
      return;
    }
    metrics.handlerSeconds.observe(Number(process.hrtime.bigint() - began) / 1e9);
    metrics.batches.inc({ result: "ok" });
    state.failures = 0;
    metrics.lag.set({ topic: tp.topic, partition: String(tp.partition) }, Number(batch.offsetLag()));
    if (ownGroupOffsets) {
      payload.resolveOffset(last);
      return;
    }
    // Committed only now, after the handler; at most every commitIntervalMs (stop() commits the rest), because a
    // commit per batch is a round trip that stalls the partition's next batch. Not awaited here either: kafkajs
    // fetches again only when every batch of its last fetch is handled, so an awaited commit held up all
    // partitions once per interval, for a round trip that a busy broker stretches (the map's p99 latency).
    payload.resolveOffset(last);
    handled.set(key(tp.topic, tp.partition), { ...tp, offset: nextOffset });
    const wait = lastCommit + config.commitIntervalMs - Date.now();
    if (wait <= 0) commitInBackground();
    else commitTimer ??= setTimeout(commitInBackground, wait).unref();
  }

  function commitInBackground(): void {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    lastCommit = Date.now(); // now, not when the chain gets to it: batches meanwhile queue no commit of their own
    committing = committing.then(commitHandled).catch(commitFailed);
  }

  async function commitHandled(): Promise<void> {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    lastCommit = Date.now();
    const pending = [...handled];
    handled.clear();
    if (pending.length === 0) return;
    try {
      await consumer.commitOffsets(pending.map(([, offset]) => offset));
    } catch (error) {
      // Back into the pending set unless a newer batch of the partition was handled meanwhile: the next commit
      // (or stop) tries again. A partition revoked meanwhile is dropped at the assignment (its new owner re-reads).
      for (const [k, offset] of pending) if (!handled.has(k) && partitions.has(k)) handled.set(k, offset);
      throw error;
    }
  }

  async function handlerFailed(
    error: unknown,
    tp: TopicPartition,
    state: PartitionState,
    fetchedOffset: string,
  ): Promise<void> {
    const err = isFleetError(error)
      ? error
      : new FleetError("FLEET_PIPELINE_HANDLER", `the handler failed on ${tp.topic}/${tp.partition}`, {
          cause: error,
          details: { ...tp, offset: fetchedOffset },
        });
    count(err);
    metrics.batches.inc({ result: "failed" });
    if (!err.retriable) {
      // The same batch would fail the same way: stop reading the partition instead of retrying it forever. Nothing
      // of the batch is resolved or committed, so after a restart it is delivered again from the committed offset.
      halted.set(key(tp.topic, tp.partition), { ...tp, code: err.code });
      consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
      logger.error(
        { err, ...tp, offset: fetchedOffset },
        "handler failed with an error that retrying cannot fix; partition paused until the pipeline restarts",
      );
      return;
    }
    state.failures += 1;
    const delayMs = Math.min(config.retry.maxMs, config.retry.initialMs * 2 ** Math.min(state.failures - 1, 20));
    logger.error({ err, ...tp, offset: fetchedOffset, retryInMs: delayMs }, "handler failed; the batch comes again");
    // The filter saw this batch's records; rebuild it (from the store when there is one) so they are kept again.
    // Without a store the fresh filter keeps each truck's first record again: at least once, as after a crash.
    state.filter = newFilter(state.kind);
    const stored = deps.offsetStore ? await storedAfterFailure(deps.offsetStore, tp, state, delayMs) : undefined;
    if (life.closed) return; // stopping: nothing of the batch was committed; it comes again after the restart
    const target = stored ?? fetchedOffset;
    consumer.seek({ ...tp, offset: target });
    state.positioned = Promise.resolve(target);
    state.aligned = false;
    await sleep(delayMs);
  }

  /**
   * The store's position after a failed batch. A store that dropped its memory of the partition (detect, after a
   * checkpoint whose outcome is unknown) answers from its own storage: when that lookup fails it is tried again
   * (each `delayMs`) until it answers or the pipeline stops, never replaced by the fetched offset, where the
   * handler's state would not belong.
   */
  async function storedAfterFailure(
    store: OffsetStore,
    tp: TopicPartition,
    state: PartitionState,
    delayMs: number,
  ): Promise<string | undefined> {
    for (;;) {
      try {
        return await loadStored(store, tp, state);
      } catch (error) {
        const err = new FleetError("FLEET_KAFKA", `cannot load the stored position of ${tp.topic}/${tp.partition}`, {
          cause: error,
        });
        count(err);
        if (life.closed) return undefined;
        logger.error({ err, ...tp, retryInMs: delayMs }, "stored position lookup failed; trying again");
        await sleep(delayMs);
      }
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      sleeps.add(entry);
    });
  }

  function runConsumer(): Promise<void> {
    return consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      eachBatch,
    });
  }

  /** Optional topics missing at start, looked for again (a map started before detect ever ran must show alerts). */
  const notYet = new Map<string, RecordKind>();
  let optionalCheck: NodeJS.Timeout | undefined;
  let addingTopics: Promise<void> = Promise.resolve();

  function lookForOptionalTopics(): void {
    if (notYet.size === 0 || life.closed) return;
    optionalCheck = setTimeout(() => {
      addingTopics = addAppearedTopics()
        .catch((error: unknown) => logger.warn({ err: error }, "could not add an optional topic; trying again"))
        .finally(lookForOptionalTopics);
    }, OPTIONAL_TOPIC_CHECK_MS);
    optionalCheck.unref();
  }

  /**
   * Rejoins the group with the optional topics that exist now. kafkajs subscribes only while stopped, so the
   * consumer stops (handled offsets committed first: they are not read again) and runs again; the rejoin assigns
   * every partition afresh, as any rebalance does.
   */
  async function addAppearedTopics(): Promise<void> {
    const existing = new Set(await admin.listTopics());
    const appeared = [...notYet].filter(([topic]) => existing.has(topic));
    if (appeared.length === 0 || life.closed) return;
    logger.info({ topics: appeared.map(([topic]) => topic) }, "optional topic exists now: reading it too");
    await committing;
    await commitHandled().catch(commitFailed);
    joined = false;
    await consumer.stop();
    if (life.closed) return;
    for (const [topic, kind] of appeared) kindOf.set(topic, kind);
    await consumer.subscribe({ topics: appeared.map(([topic]) => topic), fromBeginning: config.fromBeginning });
    for (const [topic] of appeared) notYet.delete(topic);
    await runConsumer();
    // A new run forgets kafkajs' pauses: a partition halted by a non-retriable error stays paused.
    for (const h of halted.values()) consumer.pause([{ topic: h.topic, partitions: [h.partition] }]);
  }

  consumer.on(consumer.events.GROUP_JOIN, (event) => onAssignment(event.payload.memberAssignment));
  consumer.on(consumer.events.CRASH, (event) => {
    joined = false;
    const err = new FleetError("FLEET_KAFKA", `the consumer crashed: ${event.payload.error.message}`, {
      cause: event.payload.error,
    });
    count(err);
    logger.error({ err, restart: event.payload.restart }, "consumer crashed");
  });

  return {
    metrics,
    start: () =>
      life.start(async () => {
        try {
          await admin.connect();
          const existing = new Set(await admin.listTopics());
          // The alerts topic is the detect pipeline's output: a reader (the map) must work before detect ever ran.
          // The latest topic likewise, before a bridge with the latest lane ever ran.
          for (const [optional, why] of [
            [config.topics.alerts, "alerts topic does not exist yet (start detect first): reading it once it does"],
            [config.topics.latest, "latest topic does not exist yet (an older bridge): reading it once it does"],
          ] as const) {
            if (optional === undefined || existing.has(optional)) continue;
            notYet.set(optional, kindOf.get(optional)!);
            kindOf.delete(optional);
            logger.warn({ topic: optional }, why);
          }
          const missing = [...kindOf.keys()].filter((t) => !existing.has(t));
          if (missing.length > 0) {
            throw new FleetError(
              "FLEET_KAFKA",
              `topic(s) ${missing.join(", ")} do not exist (the bridge creates them)`,
            );
          }
          await consumer.connect();
          await consumer.subscribe({ topics: [...kindOf.keys()], fromBeginning: config.fromBeginning });
          await runConsumer();
          lookForOptionalTopics();
        } catch (error) {
          await Promise.allSettled([consumer.disconnect(), admin.disconnect()]);
          if (isFleetError(error)) throw error;
          // A security cause (wrong password, unknown CA, TLS/SASL mismatch) is named in one sentence.
          throw kafkaFailure(`pipeline ${config.name} could not start`, error, config.kafka, { firstContact: true });
        }
        logger.info({ groupId: config.groupId, topics: [...kindOf.keys()] }, "pipeline started");
      }),
    stop: () =>
      life.stop(async () => {
        joined = false;
        clearTimeout(optionalCheck);
        await addingTopics;
        for (const entry of sleeps) {
          clearTimeout(entry.timer);
          entry.resolve();
        }
        sleeps.clear();
        if (inFlight > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
        await committing;
        await commitHandled().catch(commitFailed);
        await consumer.disconnect();
        await admin.disconnect();
        logger.info("pipeline stopped");
      }),
    ready: () => joined && !life.closed && halted.size === 0,
    halted: () => [...halted.values()],
    assignment: () => [...partitions.keys()].map(parseKey),
  };
}

function parseKey(k: string): TopicPartition {
  const at = k.lastIndexOf("\u0000");
  return { topic: k.slice(0, at), partition: Number(k.slice(at + 1)) };
}
