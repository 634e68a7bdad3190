/**
 * `node --expose-gc --import tsx test/bench/downlink-memory.ts [trucks]`: the heap a bridge's downlink needs to keep
 * the desired configs of a fleet (issue 19: bounded memory for 100,000 trucks). Values are read the way kafkajs
 * hands them over (views into one large fetch buffer), with a typical config (the sample in docs/kafka-contract.md).
 */
import { DesiredConfigs } from "../../bridge/downlink/desired.ts";
import { remoteConfigSample } from "../../protocol/examples/samples.ts";

const trucks = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

const before = heap();
const desired = new DesiredConfigs(trucks);
for (let start = 0; start < trucks; start += 1_000) {
  // One "fetch response" per 1,000 records, as kafkajs delivers them.
  const values = [];
  for (let i = start; i < Math.min(trucks, start + 1_000); i += 1) {
    const truckId = `TRK-${String(i).padStart(6, "0")}`;
    values.push([truckId, JSON.stringify({ ...remoteConfigSample, truckId })] as const);
  }
  const fetched = Buffer.from(values.map(([, v]) => v).join(""));
  let at = 0;
  for (const [truckId, v] of values) {
    const length = Buffer.byteLength(v);
    desired.apply(truckId, fetched.subarray(at, at + length));
    at += length;
  }
}
const after = heap();
const valueBytes = desired.get("TRK-000000")!.length;
const mb = (after - before) / 1024 / 1024;
process.stdout.write(
  `${JSON.stringify({ trucks: desired.size, valueBytes, heapMB: Number(mb.toFixed(1)), bytesPerTruck: Math.round((after - before) / desired.size) })}\n`,
);
