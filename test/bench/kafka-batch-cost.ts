/**
 * What one Kafka batch costs the bridge's process, by records per batch and partitions per topic (issue 21): the
 * bridge's own Kafka sink (bridge/kafka-sink: the idempotent kafkajs producer with our fast path, acks=all, one
 * batch in flight) sends the bridge's records (bridge-records.ts: truck-id keys over 5,000 trucks, ~330-byte JSON
 * values, five headers) one batch after another, and this process's CPU (user + system) is divided per batch and
 * per record. Under fleet load a batch holds what arrived during one Kafka round trip (24-60 records at 5,000
 * trucks on this machine), split over the topic's partitions (each its own record batch in the produce request).
 * Not in `npm run bench`; KAFKA_BROKERS (default the shared 127.0.0.1:39092). Noisy on a shared machine: compare
 * rows of one run.
 *
 *   npx tsx test/bench/kafka-batch-cost.ts            # BENCH_PARTITIONS=12,1 BENCH_BATCH_SIZES=1,36,240 BENCH_BATCHES=1000
 */
import "../../common/kafka/kafkajs-fast-path.ts";
import { loadavg } from "node:os";
import { parseBridgeConfig } from "../../bridge/config.ts";
import { createKafkaSink } from "../../bridge/kafka-sink/index.ts";
import { silentLogger } from "../../common/log.ts";
import { bridgeRecords } from "./bridge-records.ts";
import { benchTopics, deleteBenchTopics } from "./topics.ts";

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(",").map(Number);
const PARTITIONS = list("BENCH_PARTITIONS", "12,1");
const SIZES = list("BENCH_BATCH_SIZES", "1,36,240");
const BATCHES = Number(process.env.BENCH_BATCHES ?? 1_000);
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",");

console.log(`load average ${loadavg()[0]!.toFixed(1)}; ${BATCHES} batches per row`);
for (const partitions of PARTITIONS) {
  const topics = benchTopics(`batchcost${partitions}`);
  const config = parseBridgeConfig({
    listener: { tcp: { host: "127.0.0.1", port: 0 } },
    auth: { credentialsFile: "unused.json" },
    kafka: { brokers, topics, replicationFactor: 1, partitions },
  }).kafka;
  const sink = createKafkaSink(config, { logger: silentLogger });
  try {
    await sink.start();
    for (const size of SIZES) {
      const records = bridgeRecords(size * BATCHES, 5_000).map((r) => ({ topic: topics.telemetry, ...r }));
      for (let i = 0; i < Math.min(100, BATCHES); i++) await sink.send(records.slice(i * size, (i + 1) * size));
      const began = process.cpuUsage();
      const wall = performance.now();
      for (let i = 0; i < records.length; i += size) await sink.send(records.slice(i, i + size));
      const used = process.cpuUsage(began);
      const perBatch = (used.user + used.system) / BATCHES;
      console.log(
        `${partitions} partitions, ${size} records per batch: ${perBatch.toFixed(0)} µs CPU per batch ` +
          `(user ${(used.user / BATCHES).toFixed(0)}), ${(perBatch / size).toFixed(1)} µs per record, ` +
          `${((performance.now() - wall) / BATCHES).toFixed(1)} ms per batch`,
      );
    }
  } finally {
    await sink.stop();
    await deleteBenchTopics(brokers, Object.values(topics));
  }
}
console.log(`load average ${loadavg()[0]!.toFixed(1)}`);
