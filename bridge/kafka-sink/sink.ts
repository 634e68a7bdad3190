/**
 * The Kafka side of the bridge: one kafkajs idempotent producer (acks=all, maxInFlightRequests=1, Java-compatible
 * murmur2 partitioner) and an admin client for topic creation and the readiness probe.
 *
 * The sink assigns each message's partition itself with kafkajs' DefaultPartitioner over the topic's partition
 * count, which is the partition kafkajs would choose anyway; knowing it lets `send` return every message's offset
 * (base offset of its partition in the response + its index), which the installer's confirmation reply needs.
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

/** What the forwarder needs from Kafka; unit tests swap in a double. */
export interface KafkaSink {
  start(): Promise<void>;
  /** Writes the messages in order (acks=all) and resolves with each one's place, or rejects with FLEET_KAFKA. */
  send(messages: OutMessage[]): Promise<Delivery[]>;
  /** Kafka answered recently or answers a cluster description now. */
  isReachable(): Promise<boolean>;
  stop(): Promise<void>;
}

const READY_FRESH_MS = 5_000;
const MAX_CACHED_KEYS = 200_000;
/** kafkajs error types after which the idempotent producer's sequence state cannot be trusted: start a new one. */
const PRODUCER_FATAL = new Set(["OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID", "INVALID_PRODUCER_EPOCH"]);

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

export function createKafkaSink(config: KafkaSinkConfig, deps: { logger: Logger }): KafkaSink {
  const logger = deps.logger;
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
  const partitionCounts = new Map<string, number>();
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  let connecting: Promise<void> | undefined;
  let lastOkAt = 0;
  let lastErrorAt = 0;
  let stopped = false;

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });

  async function ensureTopics(client: Admin): Promise<void> {
    const wanted = Object.values(config.topics);
    if (config.createTopics) {
      const existing = new Set(await client.listTopics());
      const missing: ITopicConfig[] = wanted
        .filter((topic) => !existing.has(topic))
        .map((topic) => ({
          topic,
          numPartitions: config.partitions,
          replicationFactor: config.replicationFactor,
          // The status topic keeps only the latest state per truck: log compaction.
          configEntries: topic === config.topics.status ? [{ name: "cleanup.policy", value: "compact" }] : [],
        }));
      if (missing.length > 0) {
        await client.createTopics({ topics: missing, waitForLeaders: true }).catch((error: unknown) => {
          // Another bridge may have created them a moment ago (TOPIC_ALREADY_EXISTS): fine.
          if (!String((error as Error).message).includes("already exists")) throw error;
        });
        logger.info({ topics: missing.map((t) => t.topic) }, "created Kafka topics");
      }
    }
    const metadata = await client.fetchTopicMetadata({ topics: wanted });
    for (const topic of metadata.topics) partitionCounts.set(topic.name, topic.partitions.length);
  }

  async function connect(): Promise<void> {
    if (stopped) throw new FleetError("FLEET_CLOSED", "the Kafka sink is stopped");
    if (producer && admin && partitionCounts.size > 0) return;
    connecting ??= (async () => {
      try {
        admin ??= kafka.admin();
        await admin.connect();
        await ensureTopics(admin);
        producer ??= newProducer();
        await producer.connect();
        lastOkAt = Date.now();
      } catch (error) {
        throw new FleetError("FLEET_KAFKA", `cannot reach Kafka: ${(error as Error).message}`, { cause: error });
      } finally {
        connecting = undefined;
      }
    })();
    await connecting;
  }

  /**
   * Per topic: the partition count and each key's partition. kafkajs' DefaultPartitioner (murmur2 of the key, as
   * the Java client) only needs the count, so a key's partition is computed once and then looked up: the send path
   * stays synchronous and allocates nothing per message. The key cache is capped (when full: cleared and refilled;
   * keys are truck ids, so it normally holds one entry per truck).
   */
  const partitioning = new Map<string, { metadata: PartitionMetadata[]; byKey: Map<string, number> }>();

  async function learnPartitions(topic: string): Promise<void> {
    let count = partitionCounts.get(topic);
    if (count === undefined) {
      const metadata = await admin!.fetchTopicMetadata({ topics: [topic] });
      count = metadata.topics[0]?.partitions.length ?? 0;
      if (count === 0) throw new FleetError("FLEET_KAFKA", `topic ${topic} has no partitions`);
      partitionCounts.set(topic, count);
    }
    const metadata = Array.from({ length: count }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [],
      isr: [],
    }));
    partitioning.set(topic, { metadata, byKey: new Map() });
  }

  function partitionOf(topic: string, key: string): number {
    const known = partitioning.get(topic)!;
    let partition = known.byKey.get(key);
    if (partition === undefined) {
      partition = partitioner({ topic, partitionMetadata: known.metadata, message: { key, value: null } });
      if (known.byKey.size >= MAX_CACHED_KEYS) known.byKey.clear();
      known.byKey.set(key, partition);
    }
    return partition;
  }

  return {
    async start() {
      await connect();
    },

    async send(messages) {
      await connect();
      for (const message of messages) {
        if (!partitioning.has(message.topic)) await learnPartitions(message.topic);
      }
      // Each message's place: its partition and its index among this batch's messages for that partition.
      const byTopic = new Map<string, { list: Message[]; counters: number[] }>();
      const places: { topic: string; partition: number; index: number }[] = new Array(messages.length);
      for (let i = 0; i < messages.length; i += 1) {
        const message = messages[i]!;
        const partition = partitionOf(message.topic, message.key);
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
        result = await producer!.sendBatch({
          acks: -1,
          timeout: config.ackTimeoutMs,
          topicMessages: [...byTopic].map(([topic, { list }]) => ({ topic, messages: list })),
        });
      } catch (error) {
        lastErrorAt = Date.now();
        const type = (error as { type?: string; cause?: { type?: string } }).type;
        if (type && PRODUCER_FATAL.has(type)) {
          logger.warn({ type }, "recreating the idempotent producer");
          const old = producer;
          producer = undefined;
          await old?.disconnect().catch(() => undefined);
        }
        throw new FleetError("FLEET_KAFKA", `Kafka did not take a batch: ${(error as Error).message}`, {
          cause: error,
        });
      }
      lastOkAt = Date.now();
      const base = new Map<string, bigint>();
      for (const entry of result) {
        base.set(`${entry.topicName}\u0000${entry.partition}`, BigInt(entry.baseOffset ?? entry.offset ?? "-1"));
      }
      return places.map(({ topic, partition, index }) => {
        const first = base.get(`${topic}\u0000${partition}`);
        return { topic, partition, offset: first === undefined || first < 0n ? "-1" : String(first + BigInt(index)) };
      });
    },

    async isReachable() {
      // A recent success counts, unless a batch failed since (then ask Kafka now).
      if (Date.now() - lastOkAt < READY_FRESH_MS && lastOkAt > lastErrorAt) return true;
      try {
        await connect();
        await Promise.race([
          admin!.describeCluster(),
          new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000).unref()),
        ]);
        lastOkAt = Date.now();
        return true;
      } catch {
        return false;
      }
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      await connecting?.catch(() => undefined);
      await Promise.all([producer?.disconnect(), admin?.disconnect()].map((p) => p?.catch(() => undefined)));
      producer = undefined;
      admin = undefined;
    },
  };
}
