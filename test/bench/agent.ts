/**
 * Agent benchmark: `npm run bench:agent`. Each figure is printed beside a reference measured in the same run on the
 * same machine (the ratio is what to compare across machines), and the run ends with one JSON line of figures.
 *
 * - outbox append rate (batched group commits, fsync on) vs a raw LevelDB batch put of the same keys and bytes;
 * - backlog drain rate to a local mosquitto (MQTT 5, QoS 1) vs raw MQTT.js publishing the same payloads with the
 *   same window;
 * - agent RSS: `fleetsync agent` running (draining a backlog while recording from a GPS pty) vs a bare node + tsx;
 * - disk bytes per record in the outbox folder vs the record's JSON size.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import mqtt from "mqtt";
import { createOutbox, OutboxConfigSchema } from "../../agent/outbox/index.ts";
import { createUplink, UplinkConfigSchema } from "../../agent/uplink/index.ts";
import { encodeTelemetry, topicFor } from "../../protocol/index.ts";
import { nmeaEpoch, ptyPair, REPO, spawnAgent, waitStarted, writeConfig } from "../integration/agent/process.ts";
import { telemetryBody } from "../integration/agent/support.ts";
import { waitFor } from "../support/wait.ts";

const TRUCK = "BENCH-1";
const APPEND_N = Number(process.env.BENCH_APPEND_N ?? 100_000);
const DRAIN_N = Number(process.env.BENCH_DRAIN_N ?? 50_000);

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const s = statSync(join(dir, name));
    total += s.isDirectory() ? dirBytes(join(dir, name)) : s.size;
  }
  return total;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function startMosquitto(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\n`);
  const child: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
  await waitFor(async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 }).catch(() => undefined);
    await c?.endAsync();
    return c !== undefined || undefined;
  }, "mosquitto up");
  return {
    port,
    async stop() {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
  };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function benchAppend(dir: string) {
  const bodies = Array.from({ length: APPEND_N }, (_, i) => telemetryBody(i));
  // Reference: raw LevelDB, same keys and JSON values, same batch size, same fsync.
  const raw = new Level<string, string>(join(dir, "raw"), { keyEncoding: "utf8", valueEncoding: "utf8" });
  await raw.open();
  const t0 = performance.now();
  for (let i = 0; i < APPEND_N; i += 2000) {
    const ops = bodies.slice(i, i + 2000).map((b, j) => ({
      type: "put" as const,
      key: `t:${(i + j).toString(16).padStart(14, "0")}`,
      value: JSON.stringify(b),
    }));
    await raw.batch(ops, { sync: true });
  }
  const rawSec = (performance.now() - t0) / 1000;
  await raw.close();

  const outboxDir = join(dir, "outbox");
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: outboxDir, commitMaxRecords: 2000 }), { truckId: TRUCK });
  await outbox.start();
  const t1 = performance.now();
  const all: Promise<number>[] = [];
  for (let i = 0; i < APPEND_N; i++) {
    all.push(outbox.append("telemetry", bodies[i]!));
    // Yield now and then like a real producer, so the group commit runs while records keep arriving.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  const outboxSec = (performance.now() - t1) / 1000;
  await outbox.stop();
  const diskBytes = dirBytes(outboxDir);
  const jsonBytes = JSON.stringify(bodies[0]).length;
  return {
    outboxPerSec: APPEND_N / outboxSec,
    rawPerSec: APPEND_N / rawSec,
    diskBytesPerRecord: diskBytes / APPEND_N,
    jsonBytes,
    outboxDir,
  };
}

async function benchDrain(dir: string, port: number) {
  const outboxDir = join(dir, "drain");
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: outboxDir, commitMaxRecords: 5000 }), { truckId: TRUCK });
  await outbox.start();
  for (let i = 0; i < DRAIN_N; i += 5000) {
    await Promise.all(Array.from({ length: 5000 }, (_, j) => outbox.append("telemetry", telemetryBody(i + j))));
  }
  // Reference first: raw MQTT.js, the same payloads (1000-record binary batches), QoS 1, window of 8.
  const payloads: Buffer[] = [];
  for (let i = 0; i < DRAIN_N; i += 1000) payloads.push(encodeTelemetry(await outbox.read("telemetry", i, 1000)));
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: "bench-raw" });
  const t0 = performance.now();
  let next = 0;
  await new Promise<void>((done) => {
    let inflight = 0;
    const pump = () => {
      while (inflight < 8 && next < payloads.length) {
        inflight++;
        client.publish(topicFor("BENCH-RAW", "telemetry"), payloads[next++]!, { qos: 1 }, () => {
          inflight--;
          if (next === payloads.length && inflight === 0) done();
          else pump();
        });
      }
    };
    pump();
  });
  const rawSec = (performance.now() - t0) / 1000;
  await client.endAsync();

  const uplink = createUplink(
    UplinkConfigSchema.parse({ url: `mqtt://127.0.0.1:${port}`, protocolVersion: 5, inflightBatches: 8 }),
    { truckId: TRUCK, outbox, status: () => ({ agentVersion: "bench", bootId: "bench" }) },
  );
  const t1 = performance.now();
  await uplink.start();
  await waitFor(() => outbox.stats().channels.telemetry.acked >= DRAIN_N || undefined, "drain", {
    timeoutMs: 300_000,
    intervalMs: 5,
  });
  const sec = (performance.now() - t1) / 1000;
  const bytes = uplink.stats().bytesPublished;
  await uplink.stop();
  await outbox.stop();
  return { perSec: DRAIN_N / sec, rawPerSec: DRAIN_N / rawSec, wireBytesPerRecord: bytes / DRAIN_N };
}

/** The Environment= settings of the agent's systemd unit (minus the log level): how the Pi really runs it. */
function unitEnvironment(): Record<string, string> {
  const unit = readFileSync(join(REPO, "deploy/pi/fleetsync-agent.service"), "utf8");
  const env: Record<string, string> = {};
  for (const [, quoted, bare] of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))$/gm)) {
    const setting = quoted ?? bare!;
    const eq = setting.indexOf("=");
    env[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return env;
}

async function benchRss(dir: string, port: number, extraEnv: Record<string, string>) {
  const agentDir = join(dir, `rss${Object.keys(extraEnv).length > 0 ? "-unit" : ""}`);
  // A backlog to drain and a GPS to record from, so the agent is busy while it is measured.
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: join(agentDir, "outbox") }), { truckId: TRUCK });
  await outbox.start();
  for (let i = 0; i < 20_000; i += 5000) {
    await Promise.all(Array.from({ length: 5000 }, (_, j) => outbox.append("telemetry", telemetryBody(i + j))));
  }
  await outbox.stop();
  const gps = await ptyPair(agentDir, "gps");
  const file = await writeConfig(agentDir, {
    truckId: TRUCK,
    gps: { path: gps.device, baudRate: 115200 },
    broker: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 5 },
    outbox: { dir: join(agentDir, "outbox") },
    sampler: { minIntervalMs: 0, movingPeriodMs: 0 },
    metrics: { enabled: true, port: 0 },
  });
  // Measured as the Pi runs it: plain JavaScript from the build, no TypeScript loader in memory.
  const built = join(REPO, "node_modules/.cache/fleetsync-bench/dist");
  execFileSync(
    process.execPath,
    [join(REPO, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", built],
    {
      cwd: REPO,
      stdio: "ignore",
    },
  );
  const saved = { ...process.env };
  Object.assign(process.env, extraEnv);
  // The unit's log level when measuring as the unit runs it; debug otherwise (committed() reads debug lines).
  const logLevel = extraEnv.FLEETSYNC_LOG_LEVEL ?? "debug";
  const agent = spawnAgent(file, { entry: join(built, "cli/fleetsync.js"), logLevel });
  for (const name of Object.keys(extraEnv)) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await waitStarted(agent);
  const { createWriteStream } = await import("node:fs");
  const feed = createWriteStream(gps.feed);
  let n = 0;
  const timer = setInterval(() => feed.write(nmeaEpoch(n++)), 10); // a 100 Hz receiver
  let peak = 0;
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    peak = Math.max(peak, rssMb(agent.child.pid!));
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(timer);
  feed.end();
  agent.child.kill("SIGTERM");
  await agent.exited;
  await gps.close();
  // Reference: node doing nothing.
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1500));
  const bareMb = rssMb(bare.pid!);
  bare.kill("SIGKILL");
  return { peakMb: peak, bareMb, committed: logLevel === "debug" ? agent.committed("telemetry") : undefined };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-bench-agent-"));
  const broker = await startMosquitto(dir);
  try {
    const a = await benchAppend(dir);
    console.log(
      `outbox append:  ${a.outboxPerSec.toFixed(0)} records/s (group commit, fsync)  | raw LevelDB batch put of the same bytes: ${a.rawPerSec.toFixed(0)}/s  ratio ${(a.outboxPerSec / a.rawPerSec).toFixed(2)}  (target >= 20,000/s)`,
    );
    console.log(
      `disk per record: ${a.diskBytesPerRecord.toFixed(1)} bytes in the outbox folder | the record as JSON: ${a.jsonBytes} bytes`,
    );
    const d = await benchDrain(dir, broker.port);
    console.log(
      `backlog drain:  ${d.perSec.toFixed(0)} records/s to mosquitto (MQTT 5, QoS 1; read + encode + publish + ack) | raw MQTT.js publishing the same ready-made payloads, same window: ${d.rawPerSec.toFixed(0)}/s  ratio ${(d.perSec / d.rawPerSec).toFixed(2)}  (target >= 5,000/s); ${d.wireBytesPerRecord.toFixed(1)} wire bytes/record`,
    );
    const unitEnv = unitEnvironment();
    const plain = await benchRss(dir, broker.port, {});
    const r = await benchRss(dir, broker.port, unitEnv);
    const settings = Object.entries(unitEnv)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    console.log(
      `agent RSS:      peak ${r.peakMb.toFixed(1)} MB as the systemd unit runs it (${settings}; built JS, draining 20,000 + recording a 100 Hz GPS) | plain node, no settings: ${plain.peakMb.toFixed(1)} MB (debug log level; ${plain.committed} records committed) | bare node: ${r.bareMb.toFixed(1)} MB  (target <= 80 MB)`,
    );
    console.log(
      JSON.stringify({
        "agent.outboxAppendPerSec": Math.round(a.outboxPerSec),
        "agent.drainRecordsPerSec": Math.round(d.perSec),
        "agent.rssMb": Math.round(r.peakMb * 10) / 10,
        "agent.rssMbWithoutUnitSettings": Math.round(plain.peakMb * 10) / 10,
        "agent.diskBytesPerRecord": Math.round(a.diskBytesPerRecord * 10) / 10,
      }),
    );
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
