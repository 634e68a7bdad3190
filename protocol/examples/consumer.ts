/**
 * Example consumer for backend teams: a kafkajs consumer group on fleet.telemetry (and/or fleet.events) that passes
 * every record through the in-order filter, so each truck's records come out once and in order, and says when
 * records were duplicated (dropped) or lost (a gap). Copy it; the parts that matter are marked WHY.
 *
 *   tsx protocol/examples/consumer.ts --brokers 127.0.0.1:9092 --group live-map [--topic fleet.telemetry]...
 *       [--from-beginning]
 *
 * stdout: one JSON line per kept record: {"topic","partition","offset","record"}.
 * stderr: one JSON line per gap, per stream change, per late record (it arrived inside a gap reported before: not
 * lost after all, but dropped), per record of a replaced stream (stale-stream: two gateways with one truck id, or an
 * old outbox back), per unreadable message, and a summary on exit. Plain duplicates (retries) are only counted.
 * Stops cleanly on SIGINT/SIGTERM (finishes the message in hand, commits offsets, leaves the group).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { createInOrderFilter, type InOrderFilter, type SequencedRecord } from "../in-order.ts";
import { DEFAULT_KAFKA_TOPICS } from "../kafka.ts";

export interface ExampleConsumerOptions {
  brokers: string[];
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** Where kept records and reports go (stdout / stderr by default). */
  out?: (line: string) => void;
  report?: (line: string) => void;
}

export interface RunningConsumer {
  stop(): Promise<void>;
  stats(): Record<string, ReturnType<InOrderFilter["stats"]>>;
}

function isSequenced(value: unknown): value is SequencedRecord {
  const v = value as Partial<SequencedRecord> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.truckId === "string" &&
    typeof v.stream === "string" &&
    Number.isSafeInteger(v.seq)
  );
}

export async function runExampleConsumer(options: ExampleConsumerOptions): Promise<RunningConsumer> {
  const out = options.out ?? ((line) => process.stdout.write(`${line}\n`));
  const report = options.report ?? ((line) => process.stderr.write(`${line}\n`));
  const kafka = new Kafka({
    clientId: `fleetsync-example-${options.groupId}`,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
  });
  const consumer: Consumer = kafka.consumer({ groupId: options.groupId });

  // WHY one filter per topic: telemetry and events each have their own seq (per truck, stream and channel).
  let filters = new Map<string, InOrderFilter>();
  const filterFor = (topic: string) => {
    let filter = filters.get(topic);
    if (!filter) {
      filter = createInOrderFilter();
      filters.set(topic, filter);
    }
    return filter;
  };
  // WHY reset on every rebalance: partitions this member gets may have been read by another member meanwhile,
  // so positions remembered from an earlier assignment would report false gaps. After a reset, the first record of
  // each truck is kept as is; records between the last committed offset and a crash may repeat once (at least once).
  // For exactly once, persist filter.snapshot() atomically with your own output and restore() it here instead.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    filters = new Map();
  });

  await consumer.connect();
  for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
  await consumer.run({
    // WHY eachMessage in partition order: the filter relies on Kafka's per-partition order (key = truck id).
    eachMessage: async ({ topic, partition, message }) => {
      let record: unknown;
      try {
        record = JSON.parse(message.value?.toString("utf8") ?? "null");
      } catch {
        record = undefined;
      }
      if (!isSequenced(record)) {
        report(JSON.stringify({ event: "unreadable", topic, partition, offset: message.offset }));
        return;
      }
      const verdict = filterFor(topic).accept(record);
      if (!verdict.keep) {
        // WHY report all but plain duplicates: a late record corrects a gap reported earlier, and records of a
        // replaced stream that keep coming mean a fault on the truck side that only a person can fix.
        if (verdict.reason !== "duplicate") {
          const { truckId, stream, seq } = record;
          report(JSON.stringify({ event: verdict.reason, topic, truckId, stream, seq, lastSeq: verdict.lastSeq }));
        }
        return;
      }
      if (verdict.streamChanged) {
        report(JSON.stringify({ event: "stream-changed", topic, truckId: record.truckId, ...verdict.streamChanged }));
      }
      if (verdict.gap)
        report(JSON.stringify({ event: "gap", topic, truckId: record.truckId, stream: record.stream, ...verdict.gap }));
      out(JSON.stringify({ topic, partition, offset: message.offset, record }));
    },
  });

  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= consumer.disconnect();
      return stopping;
    },
    stats: () => Object.fromEntries([...filters].map(([topic, f]) => [topic, f.stats()])),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: "string", default: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092" },
      group: { type: "string", default: "fleetsync-example" },
      topic: { type: "string", multiple: true },
      "from-beginning": { type: "boolean", default: false },
    },
  });
  const running = await runExampleConsumer({
    brokers: values.brokers.split(",").map((b) => b.trim()),
    groupId: values.group,
    topics: values.topic ?? [DEFAULT_KAFKA_TOPICS.telemetry],
    fromBeginning: values["from-beginning"],
  });
  process.stderr.write(`${JSON.stringify({ event: "ready", group: values.group })}\n`);
  const shutdown = async () => {
    await running.stop();
    process.stderr.write(`${JSON.stringify({ event: "stopped", stats: running.stats() })}\n`);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${JSON.stringify({ event: "failed", error: String(error) })}\n`);
    process.exit(1);
  });
}
