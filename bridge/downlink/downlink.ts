/**
 * The downlink: every bridge reads the whole compacted fleet.config topic and delivers each connected truck its
 * latest desired config on `fleetsync/v1/{truckId}/config` (QoS 1): when the truck subscribes, and whenever the
 * config changes while it is subscribed here. Nothing is shared between bridges: each one reads the whole topic with
 * a consumer group of its own (a random id, no offsets committed), so any bridge behind the load balancer can serve
 * any truck.
 *
 * A truck that subscribes before this bridge has read the topic up to where it ended at start waits for it: only
 * then does "no config" mean "no config" (an empty payload tells the agent to drop an override it still runs on).
 * Configs are not retained in Aedes (that would be a second copy per bridge); the subscribe is the trigger.
 */
import { randomUUID } from "node:crypto";
import type { Consumer, Kafka } from "kafkajs";
import { type KafkaSecurity, kafkaFailure } from "../../common/kafka/security.ts";
import type { Logger } from "../../common/log.ts";
import { topicFor } from "../../protocol/topics.ts";
import { isTruckId } from "../../protocol/truck-id.ts";
import type { BrokerPublish } from "../broker/index.ts";
import type { DownlinkConfig } from "./config.ts";
import { DesiredConfigs, type DesiredUpdate } from "./desired.ts";
import { ensureConfigTopic, lastOffsets, whenReadTo } from "./topic.ts";

export interface DownlinkDeps {
  kafka: Kafka;
  /** The connection's TLS/SASL settings, to name a refused login or certificate in one sentence. */
  security?: KafkaSecurity;
  logger: Logger;
  publish(packet: BrokerPublish): void;
  hooks?: {
    onUpdate?(kind: DesiredUpdate["kind"], reason?: string): void;
    onDelivered?(): void;
  };
  /** Partitions and replication of the topic when the downlink has to create it. */
  createTopic?: { partitions: number; replicationFactor: number };
}

export interface Downlink {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A truck subscribed to its config topic on this bridge. */
  subscribed(truckId: string): void;
  /** A truck left this bridge. */
  disconnected(truckId: string): void;
  /** Whether the topic was read up to where it ended at start. */
  readonly caughtUp: boolean;
  readonly desired: DesiredConfigs;
}

const RETRY_MS = 2_000;

export function createDownlink(config: DownlinkConfig, deps: DownlinkDeps): Downlink {
  const { logger } = deps;
  const desired = new DesiredConfigs(config.maxTrucks);
  /** Trucks subscribed to their config topic here. */
  const subscribed = new Set<string>();
  /** Subscribed before catch-up: delivered once caught up. */
  const waiting = new Set<string>();
  let caughtUp = false;
  let consumer: Consumer | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let opened = false;
  let lastFailure = "";

  function deliver(truckId: string): void {
    const text = desired.get(truckId);
    // An empty payload means "no override": the agent falls back to its local file.
    deps.publish({ topic: topicFor(truckId, "config"), payload: Buffer.from(text ?? ""), qos: 1, retain: false });
    deps.hooks?.onDelivered?.();
  }

  function markCaughtUp(): void {
    if (caughtUp) return;
    caughtUp = true;
    logger.info({ trucks: desired.size, waiting: waiting.size }, "downlink: desired configs read");
    for (const truckId of waiting) if (subscribed.has(truckId)) deliver(truckId);
    waiting.clear();
  }

  function onRecord(partition: number, offset: string, key: Buffer | null, value: Buffer | null): void {
    const truckId = key?.toString("utf8") ?? "";
    if (isTruckId(truckId)) {
      const update = desired.apply(truckId, value);
      deps.hooks?.onUpdate?.(update.kind, update.kind === "refused" ? update.reason : undefined);
      if (update.kind === "refused") {
        logger.warn({ truckId, reason: update.reason, bytes: value?.length }, "downlink: desired config not kept");
      } else if (update.kind !== "unchanged" && caughtUp && subscribed.has(truckId)) deliver(truckId);
    } else
      logger.warn(
        { key: key?.toString("utf8").slice(0, 80), partition, offset },
        "downlink: record without a truck id key",
      );
  }

  async function open(): Promise<void> {
    const admin = deps.kafka.admin();
    /** Per partition, the last offset that existed at start; caught up when the consumer got past every one. */
    let endAtStart: Map<number, bigint>;
    try {
      await admin.connect();
      if (deps.createTopic) await ensureConfigTopic(admin, config.topic, deps.createTopic);
      endAtStart = await lastOffsets(admin, config.topic);
    } finally {
      await admin.disconnect();
    }
    // stop() may come while Kafka answers slowly (a bridge shut down during a Kafka outage): it cannot disconnect a
    // consumer that does not exist yet, so none is started after it.
    if (stopped) return;
    // A group of its own per bridge process: every bridge gets every partition. Nothing is committed, so each start
    // reads the whole (compacted) topic again.
    const c = deps.kafka.consumer({ groupId: `fleetsync-downlink-${randomUUID()}`, allowAutoTopicCreation: false });
    consumer = c;
    // Caught up by how far the consumer got, not by a record at each end offset: there may be none (whenReadTo).
    whenReadTo(c, config.topic, endAtStart, markCaughtUp);
    await c.connect();
    await c.subscribe({ topic: config.topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) =>
        onRecord(partition, message.offset, message.key ?? null, message.value ?? null),
    });
    // A stop during connect/subscribe/run disconnected it already, or will; one more is harmless.
    if (stopped) {
      await c.disconnect().catch(() => undefined);
      return;
    }
    if (endAtStart.size === 0) markCaughtUp();
  }

  function attempt(): void {
    if (stopped) return;
    open().then(
      () => {
        opened = true;
        lastFailure = "";
      },
      async (error: unknown) => {
        // One line per cause, no stack: a Kafka that refuses our credentials fails every retry the same way
        // (the sink's "Kafka batch failed" says the same; docs/operations.md, "Kafka security").
        const failure = kafkaFailure("downlink: cannot read the config topic yet", error, deps.security ?? {}, {
          firstContact: !opened,
        });
        const reason = failure.message;
        if (reason !== lastFailure) logger.warn({ code: failure.code, reason, retryMs: RETRY_MS }, reason);
        else logger.debug({ code: failure.code, reason, retryMs: RETRY_MS }, reason);
        lastFailure = reason;
        const c = consumer;
        consumer = undefined;
        await c?.disconnect().catch(() => undefined);
        if (stopped) return;
        retry = setTimeout(attempt, RETRY_MS);
        retry.unref();
      },
    );
  }

  return {
    desired,
    get caughtUp() {
      return caughtUp;
    },
    async start() {
      // Kafka down at start is survivable (as for the sink): trucks connect and get their config once it answers.
      attempt();
    },
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await consumer?.disconnect().catch(() => undefined);
      consumer = undefined;
    },
    subscribed(truckId) {
      subscribed.add(truckId);
      if (caughtUp) deliver(truckId);
      else waiting.add(truckId);
    },
    disconnected(truckId) {
      subscribed.delete(truckId);
      waiting.delete(truckId);
    },
  };
}
