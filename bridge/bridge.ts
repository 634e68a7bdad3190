/**
 * The bridge: listener -> auth -> forwarder -> Kafka sink, wired around one Aedes instance, plus metrics/health.
 * Stateless apart from in-flight work (design, "Scale-out"): any number of bridges can share one Kafka cluster.
 */
import type { AddressInfo } from "node:net";
import { within } from "../common/within.ts";
import { CLEAN_DISCONNECT_REASON } from "../protocol/records.ts";
import type { Client } from "aedes";
import { type Logger, silentLogger } from "../common/log.ts";
import { createKafkaClient } from "../common/kafka/connection.ts";
import { topicFor } from "../protocol/topics.ts";
import { type RepeatedLog, repeatedLog } from "../common/log-limit.ts";
import { createAuth } from "./auth/index.ts";
import { type Broker, createBroker } from "./broker/index.ts";
import type { BridgeConfig } from "./config.ts";
import { createDownlink, type Downlink } from "./downlink/index.ts";
import { createForwarder, type Forwarder } from "./forwarder/index.ts";
import { createKafkaSink, type KafkaSink } from "./kafka-sink/index.ts";
import { createListener } from "./listener/index.ts";
import { type BridgeMetrics, createHttpServer, createMetrics } from "./metrics/index.ts";
import { type Lifecycle, LifecycleGuard } from "../common/lifecycle.ts";

export interface BridgeDeps {
  logger?: Logger;
  /** Replaces the Kafka sink (unit tests). */
  sink?: KafkaSink;
}

export interface Bridge extends Lifecycle {
  readonly metrics: BridgeMetrics;
  readonly forwarder: Forwarder;
  /** Remote configuration delivery (undefined when downlink.enabled is false or the sink is a test double). */
  readonly downlink: Downlink | undefined;
  start(): Promise<void>;
  /** Graceful: stop accepting, finish in-flight batches (their PUBACKs go out), close clients, then Kafka. */
  stop(): Promise<void>;
  address(kind: "tcp" | "tls" | "http"): AddressInfo | undefined;
  /** The fewest copies any of the bridge's topics has (null until Kafka described them): the ready line shows it. */
  replicationFactor(): number | null;
}

const STATUS_RESERVE_MS = 2_000;
/** Disconnecting from a Kafka that does not answer must not hold the stop past its deadline. */
const SINK_STOP_MIN_MS = 200;

/** A Kafka failure as log fields: its code and one-sentence reason; the stack only for errors without a code. */
function failureFields(error: unknown): Record<string, unknown> {
  const e = error as { code?: unknown; message?: unknown };
  return typeof e?.code === "string" && e.code.startsWith("FLEET_")
    ? { code: e.code, reason: String(e.message) }
    : { err: error };
}

/**
 * "Kafka batch failed; retrying", once per cause and then at most once a minute with a count: a Kafka that refuses
 * our credentials fails every retry the same way, and a line (with a stack) a second would bury the cause.
 */
function batchFailureLog(logger: Logger): { report(error: unknown, records: number): void } {
  let lastReason = "";
  let repeated: RepeatedLog | undefined;
  return {
    report(error, records) {
      const reason = String((error as Error | undefined)?.message ?? error);
      if (reason !== lastReason || !repeated) {
        lastReason = reason;
        repeated = repeatedLog(logger, "warn", "Kafka batch failed; retrying");
      }
      repeated.report({ ...failureFields(error), records });
    },
  };
}

export function createBridge(config: BridgeConfig, deps: BridgeDeps = {}): Bridge {
  const logger = deps.logger ?? silentLogger;
  const batchFailures = batchFailureLog(logger);
  const metrics = createMetrics();
  /** Each topic's replication factor as Kafka last described it. */
  const replication = new Map<string, number>();
  const sink =
    deps.sink ??
    createKafkaSink(config.kafka, {
      logger: logger.child({ part: "kafka" }),
      hooks: {
        onPartitions: (topic, count) => metrics.kafkaPartitions.set({ topic }, count),
        onReplicas: (topic, replicas) => replication.set(topic, replicas),
        onPartitionsChanged: (topic) => metrics.kafkaPartitionChanges.inc({ topic }),
      },
    });
  const auth = createAuth(config.auth, {
    logger: logger.child({ part: "auth" }),
    onAuthFailure: (reason) => metrics.authFailures.inc({ reason }),
    onPasswordCheck: () => metrics.passwordChecks.inc(),
  });
  let broker: Broker | undefined;
  const forwarder = createForwarder(config.forwarder, {
    sink,
    topics: config.kafka.topics,
    logger: logger.child({ part: "forwarder" }),
    publish: (packet) => broker?.publish(packet),
    hooks: {
      onPublish: (kind, records) => {
        metrics.publishes.inc({ kind });
        metrics.records.inc({ kind }, records);
      },
      onDeadLetter: (code) => metrics.deadLetters.inc({ code }),
      onRefused: (reason) => metrics.publishesRefused.inc({ reason }),
      onAcknowledged: (seconds) => metrics.publishAckSeconds.observe(seconds),
      onBatch: (records, seconds, ok, error) => {
        metrics.kafkaBatches.inc({ result: ok ? "ok" : "error" });
        if (ok) {
          metrics.kafkaBatchSeconds.observe(seconds);
          metrics.kafkaBatchRecords.observe(records);
        } else batchFailures.report(error, records);
      },
      onPending: (records, waiting) => {
        metrics.pendingRecords.set(records);
        metrics.waitingPublishes.set(waiting);
      },
      onParked: (topics) => metrics.parkedTopics.set(topics),
      onStatusDropped: () => metrics.statusDropped.inc(),
    },
  });
  const aedes = createBroker({
    ...(config.id ? { id: config.id } : {}),
    connectTimeoutMs: config.listener.connectTimeoutMs,
    mqtt5: { maximumPacketSize: config.listener.maxPacketBytes, receiveMaximum: config.listener.receiveMaximum },
    hooks: {
      authenticate: auth.authenticate,
      authorizePublish: forwarder.authorizePublish,
      authorizeSubscribe: auth.authorizeSubscribe,
    },
  });
  broker = aedes;
  // Its own Kafka client: a consumer (group of its own) beside the sink's producer; a stub sink means a unit test.
  const downlink =
    config.downlink.enabled && !deps.sink
      ? createDownlink(config.downlink, {
          kafka: createKafkaClient(
            { ...config.kafka, clientId: `${config.kafka.clientId}-downlink` },
            { logger: logger.child({ part: "downlink" }) },
          ),
          security: config.kafka,
          logger: logger.child({ part: "downlink" }),
          publish: (packet) => aedes.publish(packet),
          ...(config.kafka.createTopics
            ? {
                createTopic: {
                  partitions: config.kafka.partitions,
                  replicationFactor: config.kafka.replicationFactor,
                },
              }
            : {}),
          hooks: {
            onUpdate: (kind, reason) => metrics.configUpdates.inc({ kind: reason ?? kind }),
            onDelivered: () => metrics.configDeliveries.inc(),
          },
        })
      : undefined;
  const listener = createListener(config.listener, {
    broker: aedes,
    limiter: auth.limiter,
    logger: logger.child({ part: "listener" }),
    onRefused: (reason) => metrics.connectionsRefused.inc({ reason }),
    onConnection: (kind) => metrics.connectionsTotal.inc({ listener: kind }),
    onPreLoginBytes: (bytes) => metrics.preLoginBytes.set(bytes),
  });
  const http = config.http
    ? createHttpServer(config.http, { registry: metrics.registry, ready: () => sink.health(), logger })
    : undefined;

  const lostReasons = new WeakMap<Client, string>();
  aedes.on("client", (client) => {
    metrics.connections.inc();
    logger.debug({ truckId: client.id }, "connected");
    forwarder.clientConnected(client);
  });
  aedes.on("clientDisconnect", (client, clean) => {
    metrics.connections.dec();
    logger.debug({ truckId: client.id, clean }, "disconnected");
    // "disconnected" only for a goodbye: consumers (the silent-truck detector) read it as "offline by its own will".
    // A connection that just ended (a killed agent's socket closed by the kernel: no error, no DISCONNECT) is a loss.
    forwarder.clientDisconnected(
      client,
      clean ? CLEAN_DISCONNECT_REASON : (lostReasons.get(client) ?? "connection closed without DISCONNECT"),
    );
    downlink?.disconnected(client.id);
  });
  aedes.on("subscribe", (subscriptions, client) => {
    // auth.authorizeSubscribe let through only the truck's own config topics: this is the truck asking for it.
    if (subscriptions.some((s) => s.topic === topicFor(client.id, "config"))) downlink?.subscribed(client.id);
  });
  aedes.on("clientError", (client, error) => {
    lostReasons.set(client, error.message.slice(0, 200));
    logger.debug({ truckId: client.id, err: error }, "client error");
  });
  aedes.on("connectionError", (_client, error) => logger.debug({ err: error }, "connection error"));

  const life = new LifecycleGuard("the bridge");

  return {
    metrics,
    forwarder,
    downlink,
    start: () =>
      life.start(async () => {
        await http?.start();
        await auth.start();
        await sink.start().catch((error: unknown) => {
          // Kafka down at start is survivable: trucks connect, records wait unacknowledged until Kafka answers.
          logger.warn(failureFields(error), "Kafka not reachable at start; will keep trying");
        });
        await forwarder.start();
        await downlink?.start();
        await aedes.listen();
        await listener.start();
        logger.info({ id: aedes.id }, "bridge started");
      }),
    stop: () =>
      life.stop(async () => {
        // One deadline for the whole stop (issue 13.6): a process manager kills the process after its grace period,
        // and everything not finished by then (offline status records included) would be lost mid-way.
        const timeoutMs = config.forwarder.drainTimeoutMs;
        const deadline = Date.now() + timeoutMs;
        logger.info({ timeoutMs }, "stopping: no new connections, finishing in-flight batches");
        await listener.stop();
        // The last part of the deadline is kept for the offline status records that closing the clients writes.
        await forwarder.drain(deadline - Math.min(STATUS_RESERVE_MS, timeoutMs / 4));
        // Let the last PUBACKs reach the sockets (mqtt-packet uncorks on the next tick) before closing them.
        await new Promise((resolve) => setImmediate(resolve));
        await aedes.close();
        await forwarder.stop(deadline);
        await within(downlink?.stop() ?? Promise.resolve(), Math.max(SINK_STOP_MIN_MS, deadline - Date.now()));
        await within(sink.stop(), Math.max(SINK_STOP_MIN_MS, deadline - Date.now()));
        await http?.stop();
        await auth.stop();
        logger.info({ ms: timeoutMs - (deadline - Date.now()) }, "bridge stopped");
      }),
    address(kind) {
      return kind === "http" ? http?.address() : listener.address(kind);
    },
    replicationFactor() {
      const topics = Object.values(config.kafka.topics);
      const known = topics.flatMap((topic) => replication.get(topic) ?? []);
      return known.length === topics.length ? Math.min(...known) : null;
    },
  };
}
