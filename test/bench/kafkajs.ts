/**
 * kafkajs' produce path, as shipped vs with our fast path (common/kafka/kafkajs-fast-path.ts):
 * `npm run bench:kafkajs`. What is timed is the CPU the bridge spends per record inside kafkajs before the bytes
 * reach the socket: grouping a batch's messages by partition, then encoding the produce request (records, record
 * batches with their CRC-32C, the request). The batches are the bridge's: 2,000 records of 40 trucks over 12
 * partitions, each with a truck-id key, a ~330-byte JSON value and our five headers.
 *
 * The fast path replaces modules for a whole process, so each side runs in a child process of its own; the two
 * alternate, three rounds each, and the best round of each side counts. Ends with one JSON line.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { bridgeRecords } from "./bridge-records.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const BATCH = 2_000;
const TRUCKS = 40;
const PARTITIONS = 12;

interface Message {
  key: string;
  value: string;
  headers: Record<string, Buffer>;
  partition: number;
}

/** kafkajs takes header values as Buffers; the partition is the one the bridge's partitioner would choose. */
function batch(): Message[] {
  return bridgeRecords(BATCH, TRUCKS).map((r, i) => ({
    ...r,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
    partition: (i % TRUCKS) % PARTITIONS,
  }));
}

async function side(fast: boolean): Promise<void> {
  if (fast) await import("../../common/kafka/kafkajs-fast-path.ts");
  const require = createRequire(import.meta.url);
  const group = require("kafkajs/src/producer/groupMessagesPerPartition.js") as (
    args: unknown,
  ) => Record<string, Message[]>;
  const produce = require("kafkajs/src/protocol/requests/produce/v3/request.js") as (args: unknown) => {
    encode(): Promise<{ size(): number }>;
  };
  const messages = batch();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0 }));
  const once = async () => {
    const byPartition = group({
      topic: "fleet.telemetry",
      partitionMetadata,
      messages,
      partitioner: ({ message }: { message: Message }) => message.partition,
    });
    const partitions = Object.entries(byPartition).map(([partition, list]) => ({
      partition: Number(partition),
      firstSequence: 0,
      messages: list,
    }));
    const request = produce({ acks: -1, timeout: 30_000, topicData: [{ topic: "fleet.telemetry", partitions }] });
    return (await request.encode()).size();
  };
  for (let i = 0; i < 20; i += 1) await once(); // warm-up: let the JIT settle
  let records = 0;
  const began = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < SECONDS * 1e9) {
    await once();
    records += BATCH;
    elapsed = Number(process.hrtime.bigint() - began);
  }
  process.stdout.write(`${JSON.stringify({ recordsPerSec: records / (elapsed / 1e9), bytes: await once() })}\n`);
}

function runSide(fast: boolean): { recordsPerSec: number; bytes: number } {
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--side", fast ? "fast" : "stock"],
    { encoding: "utf8", env: process.env },
  );
  if (child.status !== 0) throw new Error(`bench side ${fast ? "fast" : "stock"} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as { recordsPerSec: number; bytes: number };
}

if (process.argv[2] === "--side") {
  await side(process.argv[3] === "fast");
} else {
  let stock = 0;
  let fast = 0;
  for (let round = 0; round < 3; round += 1) {
    const a = runSide(false);
    const b = runSide(true);
    if (a.bytes !== b.bytes) throw new Error(`the two sides encoded different sizes: ${a.bytes} vs ${b.bytes}`);
    stock = Math.max(stock, a.recordsPerSec);
    fast = Math.max(fast, b.recordsPerSec);
  }
  const us = (rate: number) => (1e6 / rate).toFixed(2);
  console.log(`kafkajs produce path, ${BATCH}-record batches of the bridge's records (5 headers), one core`);
  console.log(
    `  kafkajs as shipped (reference): ${Math.round(stock).toLocaleString("en-US")} records/s, ${us(stock)} µs/record`,
  );
  console.log(
    `  with our fast path:             ${Math.round(fast).toLocaleString("en-US")} records/s, ${us(fast)} µs/record`,
  );
  console.log(`  ratio: ${(fast / stock).toFixed(2)}x`);
  console.log(
    JSON.stringify({
      "kafkajs.fastPathRecordsPerSec": Math.round(fast),
      "reference.kafkajsStockRecordsPerSec": Math.round(stock),
    }),
  );
}
