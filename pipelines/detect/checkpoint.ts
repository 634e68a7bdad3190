/**
 * The detect pipeline's checkpoint, in Kafka (the one file of pipelines/detect that knows the Kafka client).
 *
 * Each batch commits in ONE Kafka transaction (batches of several partitions that arrive together share one): its alerts to fleet.alerts, the new state of every truck it
 * touched (and the in-order filter's position for it) to a compacted changelog topic, the partition's position to
 * the same changelog, and the consumer group's offset (sendOffsets). Either all of it is visible to read_committed
 * readers or none of it, so after a crash the pipeline resumes from a state and a position that belong together:
 * no alert is lost, none is written twice (docs/pipelines.md, "detect", says why transactions and not a changelog
 * written before the offset commit).
 *
 * Resuming: on assignment the runtime asks `load` where to start. A partition this process already holds answers
 * from memory; otherwise the changelog is read to its end (read_committed) once per assignment. When the group's
 * committed offset is before the changelog's position (or gone), someone moved the group back (`fleetsync
 * replay`): the partition's stored state is dropped (tombstones) and reading starts there with fresh state.
 */
import type { Admin, Message, Producer, Transaction } from "kafkajs";
import { createKafkaClient } from "../../common/kafka/connection.ts";
import { classifyKafkaError } from "../../common/kafka/errors.ts";
import { javaCompatiblePartitioner } from "../../common/kafka/partitions.ts";
import { FleetError } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import { readToEnd } from "../../common/kafka/read-to-end.ts";
import { type Alert, toAlertMessage } from "../../protocol/alerts.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/kafka.ts";
import type { RecordKind } from "../runtime/types.ts";
import type { DetectConfig } from "./config.ts";
import type { TruckEntry } from "./engine.ts";

export interface StateWrite {
  kind: RecordKind;
  partition: number;
  /** New truck entries (null: delete). */
  updates: Map<string, TruckEntry | null>;
  /** The partition's next offset, when the write finishes a batch. */
  nextOffset?: string;
}

export interface Restored {
  nextOffset: string;
  trucks: Map<string, TruckEntry>;
}

export interface Checkpoint {
  start(): Promise<void>;
  /** The alerts and state writes (with their consumer offsets) of several batches in one transaction. */
  commit(writes: (StateWrite & { alerts: Alert[] })[]): Promise<void>;
  /** The stored state of a partition, or undefined to start it afresh (none stored, or the group was moved). */
  restore(kind: RecordKind, partition: number): Promise<Restored | undefined>;
  /** Forget the changelog read for the last assignment (the next assignment reads it again). */
  forgetRestore(): void;
  /** Per partition of `topic`: its first offset and the offset after its last committed record. */
  endOffsets(topic: string): Promise<Map<number, { low: bigint; high: bigint }>>;
  stop(): Promise<void>;
}

const VERSION = 1;
/** Bytes of keys and values per produce request: well under the broker's default message.max.bytes (1 MB). */
const SLICE_BYTES = 512 * 1024;

function* slices(messages: Message[]): Generator<Message[]> {
  let slice: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = String(m.key ?? "").length + (m.value === null ? 0 : String(m.value).length);
    if (slice.length > 0 && bytes + size > SLICE_BYTES) {
      yield slice;
      slice = [];
      bytes = 0;
    }
    slice.push(m);
    bytes += size;
  }
  if (slice.length > 0) yield slice;
}
/** Bounds reading the changelog at start; a changelog that does not end in this time is an error, not a hang. */
const RESTORE_DEADLINE_MS = 120_000;

export function createCheckpoint(config: DetectConfig, logger: Logger): Checkpoint {
  const topicOf: Record<RecordKind, string> = {
    telemetry: config.topics.telemetry,
    events: config.topics.events,
    status: config.topics.status,
    // Never read by detect (it writes alerts); here only so the map covers every kind the runtime knows.
    alerts: config.topics.alerts,
    // Not read by detect either (yet: a silent-truck rule could take a returning truck's current state from it).
    latest: DEFAULT_KAFKA_TOPICS.latest,
  };
  const kafka = createKafkaClient(
    { ...config.kafka, clientId: `${config.groupId}-checkpoint` },
    // A transaction begun right after the previous one committed is refused with CONCURRENT_TRANSACTIONS until the
    // broker has written the previous one's markers (a few ms), and kafkajs retries it after its default 300 ms:
    // commits of 300-400 ms that were most of detect's time in `npm run bench:detect`. A short first retry (the
    // Java client retries this case after 20 ms) with more of them keeps the same total patience (about 25 s).
    { retry: { initialRetryTime: 25, retries: 10 } },
  );
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({
    transactionalId: config.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    // kafkajs' own partitions, chosen without its Long arithmetic: every alert and state write is keyed.
    createPartitioner: javaCompatiblePartitioner,
  });
  let restoring: Promise<Map<string, string>> | undefined;
  // One transaction at a time per producer (Kafka's rule): batches, sweeps and restores queue here.
  let queue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  }

  async function inTransaction(fill: (t: Transaction) => Promise<void>): Promise<void> {
    const transaction = await producer.transaction();
    try {
      await fill(transaction);
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw new FleetError("FLEET_KAFKA", `the detect checkpoint failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  const truckKey = (kind: RecordKind, partition: number, truckId: string) =>
    `truck|${topicOf[kind]}|${partition}|${truckId}`;
  const positionKey = (kind: RecordKind, partition: number) => `position|${topicOf[kind]}|${partition}`;

  async function ensureTopics(): Promise<void> {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: config.topics.alerts, numPartitions: config.createTopics.partitions, configEntries: [] },
      {
        topic: config.topics.changelog,
        // One partition: the changelog is read whole at start, and its keys name the partition they belong to.
        numPartitions: 1,
        configEntries: [{ name: "cleanup.policy", value: "compact" }],
      },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length === 0) return;
    await admin
      .createTopics({
        topics: wanted.map((t) => ({ ...t, replicationFactor: config.createTopics.replicationFactor })),
        waitForLeaders: true,
      })
      .catch((error: unknown) => {
        // Another detector created them a moment ago (TOPIC_ALREADY_EXISTS): fine.
        if (!classifyKafkaError(error).topicExists) throw error;
      });
    logger.info({ topics: wanted.map((t) => t.topic) }, "created Kafka topics");
  }

  /** Reads the whole changelog (read_committed) into key -> value. */
  async function readChangelog(): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    await readToEnd(
      kafka,
      config.topics.changelog,
      (m) => {
        const key = m.key?.toString();
        if (key === undefined) return;
        if (m.value === null) values.delete(key);
        else values.set(key, m.value.toString());
      },
      { groupPrefix: `${config.groupId}-restore`, timeoutMs: RESTORE_DEADLINE_MS },
    );
    return values;
  }

  async function committedOffset(kind: RecordKind, partition: number): Promise<string | undefined> {
    const [topic] = await admin.fetchOffsets({ groupId: config.groupId, topics: [topicOf[kind]] });
    const offset = topic?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || BigInt(offset) < 0n ? undefined : offset;
  }

  return {
    async start() {
      try {
        await admin.connect();
        await ensureTopics();
        // Connecting a transactional producer (InitProducerId) fences an earlier instance with the same id and
        // aborts its open transaction, so the changelog read next is final.
        await producer.connect();
      } catch (error) {
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
        throw new FleetError("FLEET_KAFKA", `the detect checkpoint could not start: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },

    async commit(writes) {
      const changelog: Message[] = [];
      const alerts: Message[] = [];
      const offsets = new Map<string, { partition: number; offset: string }[]>();
      for (const write of writes) {
        for (const [truckId, entry] of write.updates) {
          changelog.push({
            key: truckKey(write.kind, write.partition, truckId),
            value: entry === null ? null : JSON.stringify({ v: VERSION, ...entry }),
          });
        }
        for (const alert of write.alerts) alerts.push(toAlertMessage(alert));
        if (write.nextOffset === undefined) continue;
        changelog.push({
          key: positionKey(write.kind, write.partition),
          value: JSON.stringify({ v: VERSION, nextOffset: write.nextOffset }),
        });
        const topic = topicOf[write.kind];
        const list = offsets.get(topic) ?? [];
        list.push({ partition: write.partition, offset: write.nextOffset });
        offsets.set(topic, list);
      }
      await exclusive(() =>
        inTransaction(async (transaction) => {
          // In slices: a group of batches can touch thousands of trucks, and one produce request per partition
          // above the broker's message.max.bytes (1 MB by default) would be refused every time it is retried.
          // The changelog's and the alerts' slices go together, one request for both (kafkajs adds their partitions
          // to the transaction in one AddPartitionsToTxn): two round trips fewer per commit than one topic after
          // the other, and most commits are one slice of each.
          const changelogSlices = [...slices(changelog)];
          const alertSlices = [...slices(alerts)];
          for (let i = 0; i < Math.max(changelogSlices.length, alertSlices.length); i += 1) {
            const topicMessages = [
              { topic: config.topics.changelog, messages: changelogSlices[i] ?? [] },
              { topic: config.topics.alerts, messages: alertSlices[i] ?? [] },
            ].filter((t) => t.messages.length > 0);
            await transaction.sendBatch({ topicMessages, acks: -1 });
          }
          if (offsets.size === 0) return;
          await transaction.sendOffsets({
            consumerGroupId: config.groupId,
            topics: [...offsets].map(([topic, partitions]) => ({ topic, partitions })),
          });
        }),
      );
    },

    async restore(kind, partition) {
      restoring ??= readChangelog();
      const values = await restoring;
      const raw = values.get(positionKey(kind, partition));
      const prefix = `truck|${topicOf[kind]}|${partition}|`;
      const keys = [...values.keys()].filter((k) => k.startsWith(prefix));
      const stored = raw === undefined ? undefined : (JSON.parse(raw) as { nextOffset: string }).nextOffset;
      const committed = await committedOffset(kind, partition);
      // The group's offset can be ahead of the checkpoint without a replay: detect before this version let the
      // runtime commit a batch whose records were all filtered (duplicates, invalid) without a checkpoint (now every
      // batch is checkpointed and the runtime commits nothing of detect's: runtime/types.ts). Nothing of those
      // records changes state, so the state holds and reading resumes at the group's offset. Only a group moved
      // back (a replay) or forgotten makes the state wrong for where reading starts.
      if (stored !== undefined && committed !== undefined && BigInt(committed) >= BigInt(stored)) {
        const trucks = new Map<string, TruckEntry>();
        for (const k of keys) {
          const { v: _v, ...entry } = JSON.parse(values.get(k)!) as TruckEntry & { v: number };
          trucks.set(k.slice(prefix.length), entry);
        }
        return { nextOffset: committed, trucks };
      }
      if (stored !== undefined || keys.length > 0) {
        logger.warn(
          { topic: topicOf[kind], partition, stored, committed: committed ?? null },
          "the group's offset is before the checkpoint's (a replay moved it back): this partition's detector state starts afresh",
        );
        const messages: Message[] = keys.map((k) => ({ key: k, value: null }));
        messages.push({ key: positionKey(kind, partition), value: null });
        await exclusive(() =>
          inTransaction(async (transaction) => {
            await transaction.send({ topic: config.topics.changelog, messages, acks: -1 });
          }),
        );
        for (const k of keys) values.delete(k);
        values.delete(positionKey(kind, partition));
      }
      return undefined;
    },

    forgetRestore() {
      restoring = undefined;
    },

    async endOffsets(topic) {
      const ends = await admin.fetchTopicOffsets(topic);
      return new Map(ends.map((e) => [e.partition, { low: BigInt(e.low), high: BigInt(e.high) }]));
    },

    async stop() {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}
