/**
 * The Kafka side of the bridge: one idempotent producer (producer.ts), the topics' bookkeeping over the admin API
 * (topics.ts), and readiness (readiness.ts), composed into the one operation the forwarder needs: `send`.
 *
 * The sink assigns each message's partition itself with kafkajs' DefaultPartitioner over the topic's partition
 * count, which is the partition kafkajs would choose anyway; knowing it lets `send` return every message's offset
 * (common/kafka/offsets.ts), which the installer's confirmation reply needs.
 *
 * kafkajs sends only to partitions it knows a leader for and resolves the rest as success, so a message addressed
 * to a partition that no longer exists would be "delivered" nowhere. Therefore `send` accepts only a response that
 * names a real offset for every partition it wrote, and otherwise refreshes the metadata and fails the batch (the
 * batcher retries it). Counts are refreshed on such errors and every `metadataRefreshMs` (topics.ts).
 */
import type { Admin, Kafka, Message, Producer } from "kafkajs";
import { FleetError } from "../../common/errors.ts";
import { createKafkaClient } from "../../common/kafka/connection.ts";
import { classifyKafkaError } from "../../common/kafka/errors.ts";
import { kafkaFailure } from "../../common/kafka/security.ts";
import { type Delivery, OffsetBook } from "../../common/kafka/offsets.ts";
import type { Logger } from "../../common/log.ts";
import type { KafkaSinkConfig } from "./config.ts";
import { createProducerSlot } from "./producer.ts";
import { createReadiness, type SinkHealth } from "./readiness.ts";
import { createTopicAdmin, type KafkaSinkHooks } from "./topics.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";

export { type Delivery, deliveredEach } from "../../common/kafka/offsets.ts";
export { sameBatch } from "./producer.ts";
export type { SinkHealth } from "./readiness.ts";
export type { KafkaSinkHooks } from "./topics.ts";

export interface OutMessage {
  topic: string;
  key: string;
  value: string | Buffer;
  headers: Record<string, string>;
}

/** What the forwarder needs from Kafka; unit tests swap in a double. */
export interface KafkaSink extends Lifecycle {
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

const PROBE_TIMEOUT_MS = 2_000;

export interface KafkaSinkDeps {
  logger: Logger;
  hooks?: KafkaSinkHooks;
  /** The Kafka client (admin and producer); unit tests pass a double. Default: common/kafka's client. */
  kafka?: Pick<Kafka, "admin" | "producer">;
}

export function createKafkaSink(config: KafkaSinkConfig, deps: KafkaSinkDeps): KafkaSink {
  const logger = deps.logger;
  const kafka =
    deps.kafka ??
    createKafkaClient(config, {
      logger,
      // Our own batcher retries failed batches forever with backoff; kafkajs' retries cover short blips only.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
  const producer = createProducerSlot(kafka, logger);
  const topics = createTopicAdmin(config, {
    logger,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    onProducerStale: () => producer.markStale(),
  });
  const readiness = createReadiness();
  let admin: Admin | undefined;
  let connecting: Promise<void> | undefined;
  let connectedOnce = false;
  let refreshTimer: NodeJS.Timeout | undefined;
  const life = new LifecycleGuard("the Kafka sink");

  async function connect(): Promise<void> {
    life.ensureOpen("a Kafka request");
    if (producer.connected && admin && topics.known) return;
    connecting ??= (async () => {
      try {
        admin ??= kafka.admin();
        await admin.connect();
        await topics.refreshAll(admin);
        await producer.get();
        connectedOnce = true;
      } catch (error) {
        // A security cause (wrong password, unknown CA, TLS/SASL mismatch) is named in one sentence; /readyz shows
        // it through its probe, which connects again each time (so readiness returns once the cause is fixed).
        throw kafkaFailure("cannot reach Kafka", error, config, { firstContact: !connectedOnce });
      } finally {
        connecting = undefined;
      }
    })();
    await connecting;
  }

  /** Looks at the batch's topics again; a topic found missing fails the batch with FLEET_KAFKA_TOPIC. */
  async function recheck(batchTopics: Iterable<string>): Promise<FleetError | undefined> {
    const gone: string[] = [];
    for (const topic of batchTopics) {
      try {
        await topics.refreshTopic(admin!, topic);
      } catch (error) {
        logger.debug({ topic, err: error }, "metadata refresh failed");
      }
      if (topics.isMissing(topic)) gone.push(topic);
    }
    return gone.length > 0 ? topics.topicError(gone) : undefined;
  }

  function failed(message: string, cause?: unknown): FleetError {
    readiness.failed(message);
    return new FleetError("FLEET_KAFKA", message, { cause });
  }

  function topicFailed(error: FleetError): FleetError {
    readiness.failed(error.message);
    return error;
  }

  return {
    start: () =>
      life.start(async () => {
        await connect();
        refreshTimer = setInterval(() => {
          if (!admin || life.closed) return;
          topics.refreshAll(admin).catch((error: unknown) => logger.debug({ err: error }, "metadata refresh failed"));
        }, config.metadataRefreshMs);
        refreshTimer.unref();
      }),

    async send(messages) {
      await connect();
      const batchTopics = new Set(messages.map((m) => m.topic));
      try {
        for (const topic of batchTopics) {
          if (!topics.partitioner(topic)) await topics.refreshTopic(admin!, topic);
        }
      } catch (error) {
        throw failed(`cannot read topic metadata: ${(error as Error).message}`, error);
      }
      const gone = [...batchTopics].filter((t) => topics.isMissing(t));
      if (gone.length > 0) throw topicFailed(topics.topicError(gone));
      producer.beforeSend(messages);
      let writer: Producer;
      try {
        writer = await producer.get();
      } catch (error) {
        const failure = kafkaFailure("cannot reach Kafka", error, config, { firstContact: !connectedOnce });
        readiness.failed(failure.message);
        throw failure;
      }
      // Each message's place: its partition and its index among this batch's messages for that partition.
      const book = new OffsetBook();
      const byTopic = new Map<string, Message[]>();
      for (const message of messages) {
        const partition = topics.partitioner(message.topic)!.partitionOf(message.key);
        let list = byTopic.get(message.topic);
        if (!list) {
          list = [];
          byTopic.set(message.topic, list);
        }
        book.add(message.topic, partition);
        // Header strings go as they are: our record encoder writes them straight into the record (no Buffer each).
        list.push({ key: message.key, value: message.value, headers: message.headers, partition });
      }
      let result: Awaited<ReturnType<Producer["sendBatch"]>>;
      const answered = readiness.sending();
      try {
        result = await writer.sendBatch({
          acks: -1,
          timeout: config.ackTimeoutMs,
          topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
        });
      } catch (error) {
        producer.afterSend(messages, true);
        const kind = classifyKafkaError(error);
        if (kind.producerFatal) producer.markStale();
        if (kind.metadataSuspect) {
          producer.markStale();
          const topicFailure = await recheck(batchTopics);
          if (topicFailure) throw topicFailed(topicFailure);
        }
        throw failed(`Kafka did not take a batch: ${(error as Error).message}`, error);
      } finally {
        answered();
      }
      producer.afterSend(messages, false);
      const { deliveries, unanswered } = book.deliveries(result);
      if (unanswered.length > 0) {
        // kafkajs skips partitions it has no leader for (a partition that no longer exists) and calls it success.
        producer.markStale();
        const topicFailure = await recheck(batchTopics);
        if (topicFailure) throw topicFailure;
        throw failed(`Kafka returned no offset for ${unanswered.join(", ")}; partitions re-read, will retry`);
      }
      readiness.ok();
      return deliveries;
    },

    health() {
      return readiness.health(topics.missingReasons(), topics.notes(), async () => {
        await connect();
        await Promise.race([
          admin!.describeCluster(),
          new Promise((_, reject) =>
            setTimeout(() => reject(new FleetError("FLEET_TIMEOUT", "timeout")), PROBE_TIMEOUT_MS).unref(),
          ),
        ]);
      });
    },

    stop: () =>
      life.stop(async () => {
        clearInterval(refreshTimer);
        await connecting?.catch(() => undefined);
        await Promise.all([producer.close(), admin?.disconnect().catch(() => undefined)]);
        admin = undefined;
      }),
  };
}
