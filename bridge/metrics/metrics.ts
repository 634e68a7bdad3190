/**
 * The bridge's Prometheus metrics (prom-client), in a registry of its own so several bridges (tests) can live in
 * one process. Names follow the Prometheus conventions: base units, `_total` for counters.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** 1 ms to 10 s: from a calm local Kafka to one that is failing over. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "fleetsync_bridge_" });
  const m = {
    registry,
    connections: new Gauge({
      name: "fleetsync_bridge_connections",
      help: "MQTT clients connected.",
      registers: [registry],
    }),
    connectionsTotal: new Counter({
      name: "fleetsync_bridge_connections_total",
      help: "Connections accepted, by listener.",
      labelNames: ["listener"] as const,
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: "fleetsync_bridge_connections_refused_total",
      help:
        "Connections closed by a limit: rate, capacity, packet-size, pre-login-bytes, pre-login-budget (blocked " +
        'logins are refused by CONNACK and counted in fleetsync_bridge_auth_failures_total{reason="blocked"}).',
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    preLoginBytes: new Gauge({
      name: "fleetsync_bridge_prelogin_bytes",
      help: "Bytes sent by connections that have not logged in yet (bounded by listener.maxPreLoginBytesTotal).",
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "fleetsync_bridge_auth_failures_total",
      help: "Refused logins, by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    passwordChecks: new Counter({
      name: "fleetsync_bridge_password_checks_total",
      help:
        "scrypt password checks run (logins that neither the verified cache nor a check of the same truck and " +
        "secret already in flight could answer): the CPU cost of a reconnect storm onto this bridge.",
      registers: [registry],
    }),
    publishes: new Counter({
      name: "fleetsync_bridge_publishes_total",
      help: "Accepted publishes, by kind (telemetry, events, status, latest).",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    records: new Counter({
      name: "fleetsync_bridge_records_total",
      help: "Records decoded from accepted publishes, by kind.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    publishesRefused: new Counter({
      name: "fleetsync_bridge_publishes_refused_total",
      help: "Publishes refused (connection closed, no PUBACK): acl, stopping.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "fleetsync_bridge_dead_letters_total",
      help: "Payloads written to the dead-letter topic, by error code.",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    publishAckSeconds: new Histogram({
      name: "fleetsync_bridge_publish_ack_seconds",
      help: "From receiving a publish to acknowledging it, its records in Kafka: the bridge's share of a truck's latency.",
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    kafkaBatches: new Counter({
      name: "fleetsync_bridge_kafka_batches_total",
      help: "Kafka sendBatch calls, by result (ok, error; errors are retried).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    kafkaBatchSeconds: new Histogram({
      name: "fleetsync_bridge_kafka_batch_seconds",
      help: "Time of one sendBatch (acks=all).",
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    kafkaBatchRecords: new Histogram({
      name: "fleetsync_bridge_kafka_batch_records",
      help: "Records per sendBatch.",
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000],
      registers: [registry],
    }),
    kafkaPartitions: new Gauge({
      name: "fleetsync_bridge_kafka_partitions",
      help: "Partition count of each topic the bridge writes to, as last read from Kafka.",
      labelNames: ["topic"] as const,
      registers: [registry],
    }),
    kafkaPartitionChanges: new Counter({
      name: "fleetsync_bridge_kafka_partition_changes_total",
      help: "A topic's partition count changed under the bridge (keys moved to other partitions; docs/bridge.md).",
      labelNames: ["topic"] as const,
      registers: [registry],
    }),
    parkedTopics: new Gauge({
      name: "fleetsync_bridge_parked_topics",
      help: "Topics whose records wait apart because Kafka cannot take them (the topic is missing).",
      registers: [registry],
    }),
    configUpdates: new Counter({
      name: "fleetsync_bridge_config_updates_total",
      help: "fleet.config records read, by outcome: set, removed, unchanged, too-large, full (not kept).",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    configDeliveries: new Counter({
      name: "fleetsync_bridge_config_deliveries_total",
      help: "Desired configs published to trucks (on subscribe and on change).",
      registers: [registry],
    }),
    statusDropped: new Counter({
      name: "fleetsync_bridge_status_dropped_total",
      help: "Waiting status records forgotten because forwarder.maxPendingStatuses trucks had one waiting.",
      registers: [registry],
    }),
    pendingRecords: new Gauge({
      name: "fleetsync_bridge_pending_records",
      help: "Records admitted and not yet acknowledged by Kafka (bounded by forwarder.maxPendingRecords).",
      registers: [registry],
    }),
    waitingPublishes: new Gauge({
      name: "fleetsync_bridge_waiting_publishes",
      help: "Publishes waiting for admission because the pending bound is reached (their sockets are not read).",
      registers: [registry],
    }),
  };
  return m;
}

export type BridgeMetrics = ReturnType<typeof createMetrics>;
