/**
 * Kafka topics of one benchmark run: every topic the bridge writes gets a name of the run's own (fleet.latest
 * included: a benchmark must not write its synthetic trucks into the fleet's shared current-state topic), and the
 * run deletes them at its end, so repeated runs do not fill the broker's disk with bench.* topics.
 */
import { Kafka, logLevel } from "kafkajs";
import type { KafkaTopics } from "../../bridge/kafka-sink/index.ts";

/** `bench.<run>.<kind>.<suffix>` for every topic the bridge writes (typed as the bridge's, so none is missed). */
export function benchTopics(run: string): KafkaTopics {
  const suffix = Date.now().toString(36);
  return {
    telemetry: `bench.${run}.telemetry.${suffix}`,
    events: `bench.${run}.events.${suffix}`,
    status: `bench.${run}.status.${suffix}`,
    deadletter: `bench.${run}.dead.${suffix}`,
    latest: `bench.${run}.latest.${suffix}`,
  };
}

/** Best effort: a broker that is gone already (a local one stopped first) must not hide the run's figures. */
export async function deleteBenchTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = new Kafka({ brokers, clientId: "bench-cleanup", logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((t) => existing.has(t));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours, timeout: 30_000 });
    process.stderr.write(`deleted the run's Kafka topics: ${ours.join(", ") || "(none existed)"}\n`);
  } catch (error) {
    process.stderr.write(`could not delete the run's Kafka topics ${topics.join(", ")}: ${String(error)}\n`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
