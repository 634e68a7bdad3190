/**
 * `node --import tsx test/bench/fleet-memory.ts [trucks] [rounds]`: what one connected, publishing truck costs in
 * memory, the bridge against plain Aedes QoS 1 (issue 21: ≤ 20 KB per truck). Alternates the two, `rounds` times,
 * each in a fresh child (bench:fleet's --serve, run with --expose-gc) under the same lean load (bench:fleet's
 * --load: N trucks, one record a second each, 16 source addresses). Per truck, after the trucks have published for
 * SETTLE_S seconds: RSS as bench:fleet reads it (no collection first), then after two full collections RSS, the V8
 * heap used, and memory outside it (external, of which ArrayBuffers: sockets' and parsers' Buffers). With
 * FLEET_MEMORY_SNAPSHOTS=DIR each server also writes a heap snapshot before and after the trucks connect
 * (`heap-summary.ts` compares two). The load average is printed beside each round: compare within a run.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { hashSecret } from "../../bridge/auth/credentials.ts";
import type { KafkaTopics } from "../../bridge/kafka-sink/index.ts";
import { benchTopics, deleteBenchTopics } from "./topics.ts";

const SIZES = (process.argv[2] ?? "2000").split(",").map(Number);
let TRUCKS = SIZES[0]!;
const ROUNDS = Number(process.argv[3] ?? 2);
const SETTLE_S = Number(process.env.FLEET_MEMORY_SETTLE_S ?? 10);
const SNAPSHOTS = process.env.FLEET_MEMORY_SNAPSHOTS;
const PASSWORD = "bench-password-0123456789";
const FLEET = join(import.meta.dirname, "fleet.ts");
const log = (line: string) => process.stderr.write(`${line}\n`);
const load1 = () => loadavg()[0]!.toFixed(1);

type Usage = NodeJS.MemoryUsage;
type Memory = { settled: Usage; collected: Usage; spaces: Record<string, number> };
type Message = { ready?: number; memory?: Memory; snapshot?: string; connected?: boolean; summary?: unknown };

/** A child of bench:fleet's script, with a queue of one answer per command. */
function child(args: string[], nodeArgs: string[]) {
  const c: ChildProcess = fork(FLEET, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [...process.execArgv, ...nodeArgs],
    // As bench:fleet and the bridge's image (deploy/bridge/Dockerfile); MALLOC_ARENA_MAX in the environment wins.
    env: { MALLOC_ARENA_MAX: "2", ...process.env },
  });
  const waiting = new Map<keyof Message, (m: Message) => void>();
  c.on("message", (m: Message) => {
    for (const key of Object.keys(m) as (keyof Message)[]) {
      waiting.get(key)?.(m);
      waiting.delete(key);
    }
  });
  const next = (key: keyof Message, command?: object) =>
    new Promise<Message>((resolve) => {
      waiting.set(key, resolve);
      if (command) c.send(command);
    });
  const end = async () => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGKILL");
    await exited;
  };
  return { next, end, send: (command: object) => c.send(command) };
}

const kb = (bytes: number) => bytes / 1024 / TRUCKS;

async function round(kind: "bridge" | "aedes", job: { dir: string; brokers: string[]; topics: KafkaTopics }) {
  const server = child(["--serve", JSON.stringify({ kind, ...job })], ["--expose-gc"]);
  const loadChild: ReturnType<typeof child>[] = [];
  try {
    const port = (await server.next("ready")).ready!;
    const base = (await server.next("memory", { cmd: "memory" })).memory!;
    const tag = `${kind}-${Date.now()}`;
    if (SNAPSHOTS) await server.next("snapshot", { cmd: "snapshot", path: join(SNAPSHOTS, `${tag}-0.heapsnapshot`) });
    const load = child(
      [
        "--load",
        JSON.stringify({
          url: `mqtt://127.0.0.1:${port}`,
          protocolVersion: kind === "aedes" ? 4 : 5,
          trucks: TRUCKS,
          prefix: "fleet",
          durationS: 3600,
          latencySamples: 1000,
        }),
      ],
      [],
    );
    loadChild.push(load);
    await load.next("connected");
    await new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000));
    const after = (await server.next("memory", { cmd: "memory" })).memory!;
    if (SNAPSHOTS) await server.next("snapshot", { cmd: "snapshot", path: join(SNAPSHOTS, `${tag}-1.heapsnapshot`) });
    const d = (pick: (m: Memory) => number) => kb(pick(after) - pick(base)).toFixed(1);
    log(
      `${kind} ${TRUCKS} trucks, KB per truck: RSS ${d((m) => m.settled.rss)} (after GC ${d((m) => m.collected.rss)}), ` +
        `heap used ${d((m) => m.collected.heapUsed)} (committed ${d((m) => m.collected.heapTotal)}), external ${d((m) => m.collected.external)} ` +
        `(ArrayBuffers ${d((m) => m.collected.arrayBuffers)}); load average ${load1()}` +
        (SNAPSHOTS ? `; snapshots ${tag}-0/1` : ""),
    );
    log(
      `  heap spaces committed, KB per truck: ` +
        Object.keys(after.spaces)
          .map((space) => `${space} ${d((m) => m.spaces[space] ?? 0)}`)
          .join(", "),
    );
  } finally {
    for (const c of loadChild) await c.end();
    await server.end();
  }
}

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:39092").split(",");
const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-fleet-memory-"));
const topics = benchTopics("fleetmem");
try {
  const hash = await hashSecret(PASSWORD, { N: 16, r: 1, p: 1 });
  const ids = Array.from({ length: Math.max(...SIZES) }, (_, i) => `fleet-${i}`);
  await writeFile(
    join(dir, "credentials.json"),
    JSON.stringify({ version: 1, trucks: Object.fromEntries(ids.map((t) => [t, hash])) }),
  );
  log(`load average at the start: ${load1()}`);
  for (let i = 0; i < ROUNDS; i++) {
    for (const size of SIZES) {
      TRUCKS = size;
      await round("bridge", { dir, brokers, topics });
      await round("aedes", { dir, brokers, topics });
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await deleteBenchTopics(brokers, Object.values(topics));
}
