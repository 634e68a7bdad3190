/**
 * `node --import tsx test/bench/heap-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot [per] [top]`: what grew
 * between two V8 heap snapshots (fleet-memory.ts writes them), by object kind: the constructor's name for objects,
 * the node type otherwise ("closure" names the function). Bytes are self sizes (shallow: an object's own fields),
 * divided by `per` (the trucks connected in between) so two servers compare per truck. Sorted by growth.
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function summarize(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = heap.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const name = heap.strings[heap.nodes[i + nameAt]!]!;
    const key =
      type === "object" || type === "closure" || type === "native"
        ? `${type}:${name.slice(0, 60)}`
        : type === "string" || type === "concatenated string" || type === "sliced string"
          ? "string"
          : `${type}:${type === "hidden" || type === "code" || type === "array" ? name.slice(0, 40) : ""}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += heap.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

const [beforeFile, afterFile, perArg, topArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) throw new Error("usage: heap-summary.ts BEFORE AFTER [per] [top]");
const per = Number(perArg ?? 1);
const top = Number(topArg ?? 40);
const before = summarize(beforeFile);
const after = summarize(afterFile);
const rows = [...after].map(([key, a]) => {
  const b = before.get(key) ?? { count: 0, bytes: 0 };
  return { key, count: (a.count - b.count) / per, bytes: (a.bytes - b.bytes) / per };
});
rows.sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((n, r) => n + r.bytes, 0);
process.stdout.write(`total growth: ${total.toFixed(0)} bytes per ${per === 1 ? "run" : "unit"}\n`);
for (const r of rows.slice(0, top))
  process.stdout.write(`${r.bytes.toFixed(0).padStart(8)} B  ${r.count.toFixed(2).padStart(7)} x  ${r.key}\n`);
