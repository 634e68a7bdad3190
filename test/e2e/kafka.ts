/**
 * Kafka for end-to-end runs, the demo and the fault tests: the brokers in KAFKA_BROKERS when set, otherwise the
 * local Kafka of deploy/kafka on free ports (one node, or KAFKA_CLUSTER nodes). A run that must stop and restart the broker (the Kafka
 * faults) asks for its own local broker even when KAFKA_BROKERS is set: restarting a shared cluster is not ours to do.
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";

export interface E2eKafka {
  readonly brokers: string[];
  /** The local broker when this run started one (its stop()/start() restart it on the same ports and data). */
  readonly local: LocalKafka | undefined;
  /** Stops the local broker (if this run started one) and removes its data. Idempotent. */
  close(): Promise<void>;
}

export function brokersFromEnv(): string[] | undefined {
  const list = process.env.KAFKA_BROKERS?.split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  return list && list.length > 0 ? list : undefined;
}

/** KAFKA_CLUSTER: how many nodes a local Kafka started by the harness has (default 1; 3 for the cluster). */
export function kafkaClusterSize(): number {
  const raw = process.env.KAFKA_CLUSTER?.trim();
  if (!raw) return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new RangeError(`KAFKA_CLUSTER must be 1..9 nodes, got '${raw}'`);
  return n;
}

/**
 * `own`: a local Kafka of this run's own even when KAFKA_BROKERS is set (faults that stop brokers). `nodes`: its
 * size (default KAFKA_CLUSTER, else 1); the cluster faults ask for 3 whatever the environment says.
 */
export async function startKafka(
  options: { own?: boolean; nodes?: number; proxiedListener?: boolean } = {},
): Promise<E2eKafka> {
  const fromEnv = options.own ? undefined : brokersFromEnv();
  if (fromEnv) return { brokers: fromEnv, local: undefined, close: async () => {} };
  const local = await startLocalKafka({
    nodes: options.nodes ?? kafkaClusterSize(),
    ...(options.proxiedListener ? { proxiedListener: true } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    brokers: local.brokers,
    local,
    close() {
      closing ??= (async () => {
        await local.stop();
        await rm(local.dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

export interface RunTopics {
  telemetry: string;
  events: string;
  status: string;
  deadletter: string;
  latest: string;
}

/** Topics no other run uses, so a shared Kafka never mixes runs (the bridge creates them at start). */
export function runTopics(prefix: string): RunTopics {
  const tag = `${Date.now().toString(36)}.${randomBytes(3).toString("hex")}`;
  return {
    telemetry: `e2e.${prefix}.telemetry.${tag}`,
    events: `e2e.${prefix}.events.${tag}`,
    status: `e2e.${prefix}.status.${tag}`,
    deadletter: `e2e.${prefix}.deadletter.${tag}`,
    latest: `e2e.${prefix}.latest.${tag}`,
  };
}
