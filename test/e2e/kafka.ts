/**
 * Kafka for end-to-end runs, the demo and the fault tests: the brokers in KAFKA_BROKERS when set, otherwise the
 * local single-node broker of deploy/kafka on free ports. A run that must stop and restart the broker (the Kafka
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

export async function startKafka(options: { own?: boolean } = {}): Promise<E2eKafka> {
  const fromEnv = options.own ? undefined : brokersFromEnv();
  if (fromEnv) return { brokers: fromEnv, local: undefined, close: async () => {} };
  const local = await startLocalKafka();
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
}

/** Topics no other run uses, so a shared Kafka never mixes runs (the bridge creates them at start). */
export function runTopics(prefix: string): RunTopics {
  const tag = `${Date.now().toString(36)}.${randomBytes(3).toString("hex")}`;
  return {
    telemetry: `e2e.${prefix}.telemetry.${tag}`,
    events: `e2e.${prefix}.events.${tag}`,
    status: `e2e.${prefix}.status.${tag}`,
    deadletter: `e2e.${prefix}.deadletter.${tag}`,
  };
}
