/**
 * The Kafka side of the bridge: one kafkajs idempotent producer (acks=all, maxInFlightRequests=1, Java-compatible
 * murmur2 partitioner) and an admin client for topic creation and the readiness probe.
 *
 * The sink assigns each message's partition itself with kafkajs' DefaultPartitioner over the topic's partition
 * count, which is the partition kafkajs would choose anyway; knowing it lets `send` return every message's offset
 * (base offset of its partition in the response + its index), which the installer's confirmation reply needs.
 *
 * Partition counts are not fixed for the process lifetime (issue 13): a topic can be re-created with another count,
 * or grown. kafkajs sends only to partitions it knows a leader for and resolves the rest as success, so a message
 * addressed to a partition that no longer exists would be "delivered" nowhere. Therefore `send` accepts only a
 * response that names a real offset for every partition it wrote, and otherwise refreshes the metadata and fails
 * the batch (the batcher retries it). Counts are refreshed on such errors and every `metadataRefreshMs`; a changed
 * count is logged as an error, counted, shown on /readyz, and followed: keys move to the partitions that exist now
 * (docs/bridge.md, "Partition count changes").
 */
// First: it must replace kafkajs' record encoder before kafkajs loads it.
import { fastPath } from "./kafkajs-fast-path.ts";
import { connect as tcpConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  type Admin,
  type ISocketFactory,
  type ITopicConfig,
  Kafka,
  type LogEntry,
  logLevel,
  type Message,
  type PartitionMetadata,
  Partitioners,
  type Producer,
} from "kafkajs";
import { FleetError } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { KafkaSinkConfig } from "./config.ts";
import { replicationPlan } from "./replication.ts";

export interface OutMessage {
  topic: string;
  key: string;
  value: string | Buffer;
  headers: Record<string, string>;
}

export interface Delivery {
  topic: string;
  partition: number;
  offset: string;
}

/** Whether Kafka named a real place (partition, offset >= 0) for each of `count` messages. */
export function deliveredEach(deliveries: readonly Delivery[], count: number): boolean {
  if (deliveries.length !== count) return false;
  for (const delivery of deliveries) {
    if (!(delivery.partition >= 0) || !/^\d+$/.test(delivery.offset)) return false;
  }
  return true;
}

export interface SinkHealth {
  /** Can deliver now: Kafka answers, the last batch did not fail, and every topic exists. */
  ready: boolean;
  /** Why not ready. */
  reasons: string[];
  /** Things operators must know although delivery works (partition count changes). */
  notes: string[];
}

export interface KafkaSinkHooks {
  /** A topic's partition count, whenever it is learned. */
  onPartitions?(topic: string, count: number): void;
  /** A topic's replication factor (its partitions' fewest replicas), whenever it is learned. */
  onReplicas?(topic: string, replicas: number): void;
  onPartitionsChanged?(topic: string, from: number, to: number): void;
}

/** What the forwarder needs from Kafka; unit tests swap in a double. */
export interface KafkaSink {
  start(): Promise<void>;
  /**
   * Writes the messages in order (acks=all) and resolves with each one's place, or rejects: FLEET_KAFKA_TOPIC
   * (details.topics: the topics that do not exist; the other topics' messages were not written either) or
   * FLEET_KAFKA.
   */
  send(messages: OutMessage[]): Promise<Delivery[]>;
  health(): Promise<SinkHealth>;
  stop(): Promise<void>;
}

const READY_FRESH_MS = 5_000;
/** How long a topic just created (by us or by another bridge) may take to appear in a broker's metadata. */
const CREATED_METADATA_WAIT_MS = 10_000;
const MAX_CACHED_KEYS = 200_000;
const MAX_NOTES = 10;
/** kafkajs error types after which the idempotent producer's sequence state cannot be trusted: start a new one. */
const PRODUCER_FATAL = new Set(["OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID", "INVALID_PRODUCER_EPOCH"]);
/** kafkajs errors that mean our idea of a topic (exists, partition count) may be wrong: look again. */
const METADATA_SUSPECT = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE"]);

/** The kafkajs error types along an error's cause chain (kafkajs wraps the broker's error in a retry error). */
function errorTypes(error: unknown): string[] {
  const types: string[] = [];
  for (let e = error as { type?: unknown; name?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.type === "string") types.push(e.type);
    if (e.name === "KafkaJSMetadataNotLoaded") types.push("UNKNOWN_TOPIC_OR_PARTITION");
    if (types.length > 10) break;
  }
  return types;
}

function kafkaLogger(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...rest } = log;
      if (level <= logLevel.ERROR) logger.error(rest, `kafkajs: ${message}`);
      else if (level === logLevel.WARN) logger.warn(rest, `kafkajs: ${message}`);
      else logger.debug(rest, `kafkajs: ${message}`);
    };
}

/**
 * kafkajs' own sockets keep Nagle's algorithm on, so a small request written while an earlier one is unacknowledged
 * can wait for the broker's delayed ACK (tens of ms). The Java client and the broker itself set TCP_NODELAY; so do we.
 */
const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : tcpConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

/** Whether two sends carry the same records in the same order (a batch retried unchanged). */
export function sameBatch(a: readonly OutMessage[], b: readonly OutMessage[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.topic !== y.topic || x.key !== y.key) return false;
    const same =
      typeof x.value === "string" || typeof y.value === "string" ? x.value === y.value : x.value.equals(y.value);
    if (!same) return false;
  }
  return true;
}

/** What kafkajs' DefaultPartitioner needs to know of a topic with `count` partitions: their ids. */
export function partitionMetadata(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [],
    isr: [],
  }));
}

interface Partitioning {
  count: number;
  metadata: PartitionMetadata[];
  /** Each key's partition, computed once (keys are truck ids). Capped: when full, cleared and refilled. */
  byKey: Map<string, number>;
}

export function createKafkaSink(config: KafkaSinkConfig, deps: { logger: Logger; hooks?: KafkaSinkHooks }): KafkaSink {
  const logger = deps.logger;
  const hooks = deps.hooks ?? {};
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    socketFactory,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogger(logger),
    // Our own batcher retries failed batches forever with backoff; kafkajs' retries cover short blips only.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
  if (!fastPath.active) logger.warn({ reason: fastPath.reason }, "kafkajs runs without the fast record encoder");
  const partitioner = Partitioners.DefaultPartitioner();
  const partitioning = new Map<string, Partitioning>();
  /** Topics that do not exist (createTopics off), with the reason /readyz shows. */
  const missing = new Map<string, string>();
  const notes: string[] = [];
  let producer: Producer | undefined;
  /** The producer's own metadata (leaders, partitions) may be out of date: start a new producer before sending. */
  let producerStale = false;
  /**
   * The messages of the last send that failed. Kafka may have written them without our hearing so, and kafkajs then
   * rolled the partitions' sequence numbers back: the next batch on this producer reuses them. Only the same batch
   * may go next (the broker recognises it and answers with the first write's offsets); a different one of the same
   * size would be taken for that duplicate, answered with the old offsets and never written (docs/bridge.md, "The
   * idempotent producer's sequence numbers"). So anything else gets a new producer (new id, sequences from 0).
   */
  let unsettled: readonly OutMessage[] | undefined;
  let admin: Admin | undefined;
  let connecting: Promise<void> | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  let lastOkAt = 0;
  let lastProbeOkAt = 0;
  let lastErrorAt = 0;
  let lastError = "";
  let stopped = false;

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });

  /**
   * A connected producer whose metadata and sequence state can be trusted: a stale one is replaced. `producer` is
   * set only once connected, so a connect that failed (Kafka down) is tried again on the next batch.
   */
  async function ensureProducer(): Promise<Producer> {
    if (producer && !producerStale) return producer;
    const old = producer;
    producer = undefined;
    producerStale = false;
    if (old) {
      logger.warn("recreating the idempotent producer (topic metadata or sequence state changed)");
      await old.disconnect().catch(() => undefined);
    }
    unsettled = undefined;
    const fresh = newProducer();
    try {
      await fresh.connect();
    } catch (error) {
      await fresh.disconnect().catch(() => undefined);
      throw error;
    }
    producer = fresh;
    return fresh;
  }

  async function createTopics(client: Admin, topics: string[]): Promise<void> {
    const plan = replicationPlan(config.replicationFactor, (await client.describeCluster()).brokers.length);
    if (plan.reduced) logger.warn({ topics }, plan.reduced);
    const wanted: ITopicConfig[] = topics.map((topic) => ({
      topic,
      numPartitions: config.partitions,
      replicationFactor: plan.replicationFactor,
      configEntries: [
        // The status topic keeps only the latest state per truck: log compaction.
        ...(topic === config.topics.status ? [{ name: "cleanup.policy", value: "compact" }] : []),
        ...(plan.minInsyncReplicas ? [{ name: "min.insync.replicas", value: String(plan.minInsyncReplicas) }] : []),
      ],
    }));
    await client.createTopics({ topics: wanted, waitForLeaders: true }).catch((error: unknown) => {
      // Another bridge may have created them a moment ago (TOPIC_ALREADY_EXISTS): fine.
      if (String((error as Error).message).includes("already exists")) return;
      // Created, but the broker asked while waiting for leaders has not learned of it yet: on a cluster the
      // controller spreads topic metadata to the brokers asynchronously. refreshTopic waits for it.
      if (errorTypes(error).includes("UNKNOWN_TOPIC_OR_PARTITION")) return;
      throw error;
    });
    logger.info({ topics, replicationFactor: plan.replicationFactor }, "created Kafka topics");
  }

  /** A topic's partition count, or undefined when the topic does not exist. */
  async function partitionCount(client: Admin, topic: string): Promise<number | undefined> {
    try {
      const metadata = await client.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      if (partitions.length > 0) hooks.onReplicas?.(topic, Math.min(...partitions.map((p) => p.replicas.length)));
      return partitions.length || undefined;
    } catch (error) {
      if (errorTypes(error).includes("UNKNOWN_TOPIC_OR_PARTITION")) return undefined;
      throw error;
    }
  }

  /** A just-created topic's partition count, once every broker we ask knows it (bounded: then undefined). */
  async function createdPartitionCount(client: Admin, topic: string): Promise<number | undefined> {
    const deadline = Date.now() + CREATED_METADATA_WAIT_MS;
    for (;;) {
      const count = await partitionCount(client, topic);
      if (count !== undefined || Date.now() > deadline) return count;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Learns a topic's partition count again: re-creates a vanished topic when configured to, marks it missing
   * otherwise, and reports a changed count (the policy: follow it; keys move, docs/bridge.md).
   */
  async function refreshTopic(client: Admin, topic: string): Promise<void> {
    let count = await partitionCount(client, topic);
    if (count === undefined && config.createTopics) {
      await createTopics(client, [topic]);
      if (partitioning.has(topic))
        logger.error({ topic }, "a topic the bridge writes to had vanished; created it again");
      producerStale = true;
      count = await createdPartitionCount(client, topic);
    }
    if (count === undefined) {
      const reason = `topic ${topic} does not exist (kafka.createTopics is off)`;
      if (!missing.has(topic)) logger.error({ topic }, reason);
      missing.set(topic, reason);
      return;
    }
    if (missing.delete(topic)) {
      logger.warn({ topic }, "topic exists again");
      producerStale = true;
    }
    const known = partitioning.get(topic);
    if (known?.count === count) return;
    if (known) {
      const note = `${topic}: partitions changed from ${known.count} to ${count} at ${new Date().toISOString()}`;
      logger.error(
        { topic, from: known.count, to: count },
        "partition count changed: trucks' records now go to other partitions (docs/bridge.md)",
      );
      notes.push(note);
      if (notes.length > MAX_NOTES) notes.shift();
      hooks.onPartitionsChanged?.(topic, known.count, count);
      producerStale = true;
    }
    partitioning.set(topic, { count, metadata: partitionMetadata(count), byKey: new Map() });
    hooks.onPartitions?.(topic, count);
  }

  async function refreshAll(client: Admin): Promise<void> {
    for (const topic of Object.values(config.topics)) await refreshTopic(client, topic);
  }

  async function connect(): Promise<void> {
    if (stopped) throw new FleetError("FLEET_CLOSED", "the Kafka sink is stopped");
    if (producer && admin && partitioning.size + missing.size > 0) return;
    connecting ??= (async () => {
      try {
        admin ??= kafka.admin();
        await admin.connect();
        await refreshAll(admin);
        await ensureProducer();
        lastOkAt = Date.now();
      } catch (error) {
        throw new FleetError("FLEET_KAFKA", `cannot reach Kafka: ${(error as Error).message}`, { cause: error });
      } finally {
        connecting = undefined;
      }
    })();
    await connecting;
  }

  function partitionOf(known: Partitioning, topic: string, key: string): number {
    let partition = known.byKey.get(key);
    if (partition === undefined) {
      partition = partitioner({ topic, partitionMetadata: known.metadata, message: { key, value: null } });
      if (known.byKey.size >= MAX_CACHED_KEYS) known.byKey.clear();
      known.byKey.set(key, partition);
    }
    return partition;
  }

  function topicError(topics: string[]): FleetError {
    return new FleetError("FLEET_KAFKA_TOPIC", topics.map((t) => missing.get(t) ?? t).join("; "), {
      details: { topics },
    });
  }

  /** Looks at the batch's topics again; a topic found missing fails the batch with FLEET_KAFKA_TOPIC. */
  async function recheck(topics: Iterable<string>): Promise<FleetError | undefined> {
    const gone: string[] = [];
    for (const topic of topics) {
      try {
        await refreshTopic(admin!, topic);
      } catch (error) {
        logger.debug({ topic, err: error }, "metadata refresh failed");
      }
      if (missing.has(topic)) gone.push(topic);
    }
    return gone.length > 0 ? topicError(gone) : undefined;
  }

  function failed(message: string, cause?: unknown): FleetError {
    lastErrorAt = Date.now();
    lastError = message;
    return new FleetError("FLEET_KAFKA", message, { cause });
  }

  return {
    async start() {
      await connect();
      refreshTimer = setInterval(() => {
        if (!admin || stopped) return;
        refreshAll(admin).catch((error: unknown) => logger.debug({ err: error }, "metadata refresh failed"));
      }, config.metadataRefreshMs);
      refreshTimer.unref();
    },

    async send(messages) {
      await connect();
      const topics = new Set(messages.map((m) => m.topic));
      try {
        for (const topic of topics) {
          if (!partitioning.has(topic) || missing.has(topic)) await refreshTopic(admin!, topic);
        }
      } catch (error) {
        throw failed(`cannot read topic metadata: ${(error as Error).message}`, error);
      }
      const gone = [...topics].filter((t) => missing.has(t));
      if (gone.length > 0) {
        lastErrorAt = Date.now();
        lastError = topicError(gone).message;
        throw topicError(gone);
      }
      if (unsettled && !sameBatch(unsettled, messages)) producerStale = true;
      let writer: Producer;
      try {
        writer = await ensureProducer();
      } catch (error) {
        throw failed(`cannot reach Kafka: ${(error as Error).message}`, error);
      }
      // Each message's place: its partition and its index among this batch's messages for that partition.
      const byTopic = new Map<string, { list: Message[]; counters: number[] }>();
      const places: { topic: string; partition: number; index: number }[] = new Array(messages.length);
      for (let i = 0; i < messages.length; i += 1) {
        const message = messages[i]!;
        const partition = partitionOf(partitioning.get(message.topic)!, message.topic, message.key);
        let entry = byTopic.get(message.topic);
        if (!entry) {
          entry = { list: [], counters: [] };
          byTopic.set(message.topic, entry);
        }
        const index = entry.counters[partition] ?? 0;
        entry.counters[partition] = index + 1;
        places[i] = { topic: message.topic, partition, index };
        // Header strings go as they are: our record encoder writes them straight into the record (no Buffer each).
        entry.list.push({ key: message.key, value: message.value, headers: message.headers, partition });
      }
      let result: Awaited<ReturnType<Producer["sendBatch"]>>;
      try {
        result = await writer.sendBatch({
          acks: -1,
          timeout: config.ackTimeoutMs,
          topicMessages: [...byTopic].map(([topic, { list }]) => ({ topic, messages: list })),
        });
      } catch (error) {
        unsettled = messages;
        const types = errorTypes(error);
        if (types.some((type) => PRODUCER_FATAL.has(type))) producerStale = true;
        if (types.some((type) => METADATA_SUSPECT.has(type))) {
          producerStale = true;
          const topicFailure = await recheck(topics);
          if (topicFailure) {
            lastErrorAt = Date.now();
            lastError = topicFailure.message;
            throw topicFailure;
          }
        }
        throw failed(`Kafka did not take a batch: ${(error as Error).message}`, error);
      }
      unsettled = undefined;
      const base = new Map<string, bigint>();
      for (const entry of result) {
        const offset = entry.errorCode === 0 ? (entry.baseOffset ?? entry.offset) : undefined;
        if (offset !== undefined) base.set(`${entry.topicName}\u0000${entry.partition}`, BigInt(offset));
      }
      const deliveries: Delivery[] = new Array(places.length);
      const unanswered = new Set<string>();
      for (let i = 0; i < places.length; i += 1) {
        const { topic, partition, index } = places[i]!;
        const first = base.get(`${topic}\u0000${partition}`);
        if (first === undefined || first < 0n) unanswered.add(`${topic}/${partition}`);
        else deliveries[i] = { topic, partition, offset: String(first + BigInt(index)) };
      }
      if (unanswered.size > 0) {
        // kafkajs skips partitions it has no leader for (a partition that no longer exists) and calls it success.
        producerStale = true;
        const topicFailure = await recheck(topics);
        if (topicFailure) throw topicFailure;
        throw failed(`Kafka returned no offset for ${[...unanswered].join(", ")}; partitions re-read, will retry`);
      }
      lastOkAt = Date.now();
      return deliveries;
    },

    async health() {
      const reasons = [...missing.values()];
      if (lastErrorAt > lastOkAt) reasons.push(`the last Kafka batch failed: ${lastError}`);
      else if (Date.now() - Math.max(lastOkAt, lastProbeOkAt) >= READY_FRESH_MS) {
        // Nothing delivered recently: ask Kafka now.
        try {
          await connect();
          await Promise.race([
            admin!.describeCluster(),
            new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000).unref()),
          ]);
          lastProbeOkAt = Date.now();
        } catch (error) {
          reasons.push(`Kafka unreachable: ${(error as Error).message}`);
        }
      }
      return { ready: reasons.length === 0, reasons, notes: [...notes] };
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(refreshTimer);
      await connecting?.catch(() => undefined);
      await Promise.all([producer?.disconnect(), admin?.disconnect()].map((p) => p?.catch(() => undefined)));
      producer = undefined;
      admin = undefined;
    },
  };
}
