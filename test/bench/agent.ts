/**
 * Agent benchmark: `npm run bench:agent`. Each figure is printed beside a reference measured in the same run on the
 * same machine (the ratio is what to compare across machines), and the run ends with one JSON line of figures.
 *
 * - outbox append rate (batched group commits, fsync on) vs a raw LevelDB batch put of the same keys and bytes;
 * - backlog drain rate to a local mosquitto (MQTT 5, QoS 1) vs raw MQTT.js publishing the same payloads with the
 *   same window;
 * - agent RSS: `fleetsync agent` as the systemd unit runs it (its ExecStart's node flags, its Environment=, the built
 *   JavaScript), draining a backlog while recording from a GPS pty, vs a bare node; also without the node flags, and
 *   as on a truck (TLS to the broker, a CAN pty at 2,000 frames/s beside the GPS);
 * - the agent process's own drain rate and CPU share while recording, with and without the unit's node flags;
 * - disk bytes per record in the outbox folder vs the record's JSON size.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { Level } from "level";
import mqtt from "mqtt";
import { createOutbox, OutboxConfigSchema } from "../../agent/outbox/index.ts";
import { createUplink, UplinkConfigSchema } from "../../agent/uplink/index.ts";
import { encodeTelemetry, topicFor } from "../../protocol/index.ts";
import { nmeaEpoch, ptyPair, REPO, spawnAgent, waitStarted, writeConfig } from "../integration/agent/process.ts";
import { telemetryBody } from "../integration/agent/support.ts";
import { serverPki } from "../support/pki.ts";
import { waitFor } from "../support/wait.ts";
import { readUnit, type UnitInvocation } from "./unit.ts";

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

interface Broker {
  port: number;
  /** The TLS listener (the fleet CA's certificate for localhost), as trucks connect. */
  tlsPort: number;
  ca: string;
  stop(): Promise<void>;
}

async function startMosquitto(dir: string): Promise<Broker> {
  const [port, tlsPort] = [await freePort(), await freePort()];
  const pki = serverPki(dir);
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      "per_listener_settings false",
      "allow_anonymous true",
      "persistence false",
      "max_inflight_messages 0",
      // Run as root, mosquitto would switch to its own user, which cannot read this private folder.
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${pki.ca}`,
      `certfile ${pki.cert}`,
      `keyfile ${pki.key}`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
  const ca = [readFileSync(pki.ca)];
  for (const url of [`mqtt://127.0.0.1:${port}`, `mqtts://localhost:${tlsPort}`]) {
    await waitFor(async () => {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ca }).catch(() => undefined);
      await c?.endAsync();
      return c !== undefined || undefined;
    }, `mosquitto up at ${url}`);
  }
  return {
    port,
    tlsPort,
    ca: pki.ca,
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

function cpuSeconds(pid: number): number {
  // /proc/PID/stat fields 14 and 15 (utime, stime) in clock ticks; USER_HZ is 100 on Linux.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function ackedTelemetry(metricsPort: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
  return Number(/^fleetsync_agent_outbox_acked_total\{channel="telemetry"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

const RSS_BACKLOG = 20_000;
const RSS_SECONDS = 8;
/** The agent as `npm run build` emits it (the Pi runs plain JavaScript, no TypeScript loader in memory). */
const BUILT = join(REPO, "node_modules/.cache/fleetsync-bench/dist");
/** A J1939 truck capture, fed to the CAN pty in candump format in the "truck" scenario. */
const CAN_LOG = resolve(REPO, "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log");
const CAN_FRAMES_PER_SEC = 2000;

interface RssScenario {
  name: string;
  /** undefined: plain node, no settings, debug log level. */
  unit: UnitInvocation | undefined;
  /** The truck's case: TLS to the broker and a CAN adapter at CAN_FRAMES_PER_SEC beside the GPS. */
  truck?: boolean;
}

async function benchRss(dir: string, broker: Broker, scenario: RssScenario) {
  const { unit, truck = false } = scenario;
  const agentDir = join(dir, `rss-${scenario.name}`);
  // A backlog to drain and a GPS to record from, so the agent is busy while it is measured.
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: join(agentDir, "outbox") }), { truckId: TRUCK });
  await outbox.start();
  for (let i = 0; i < RSS_BACKLOG; i += 5000) {
    await Promise.all(Array.from({ length: 5000 }, (_, j) => outbox.append("telemetry", telemetryBody(i + j))));
  }
  await outbox.stop();
  const gps = await ptyPair(agentDir, "gps");
  const can = truck ? await ptyPair(agentDir, "can") : undefined;
  const file = await writeConfig(agentDir, {
    truckId: TRUCK,
    gps: { path: gps.device, baudRate: 115200 },
    ...(can ? { can: { path: can.device, baudRate: 115200, format: "candump" } } : {}),
    broker: truck
      ? { url: `mqtts://localhost:${broker.tlsPort}`, caFile: broker.ca, protocolVersion: 5 }
      : { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 5 },
    outbox: { dir: join(agentDir, "outbox") },
    sampler: { minIntervalMs: 0, movingPeriodMs: 0 },
    metrics: { enabled: true, port: 0 },
  });
  const extraEnv = unit?.env ?? {};
  const saved = { ...process.env };
  Object.assign(process.env, extraEnv);
  // The unit's log level when measuring as the unit runs it; debug otherwise (committed() reads debug lines).
  const logLevel = extraEnv.FLEETSYNC_LOG_LEVEL ?? "debug";
  const agent = spawnAgent(file, { entry: join(BUILT, "cli/fleetsync.js"), logLevel, nodeArgs: unit?.nodeArgs });
  for (const name of Object.keys(extraEnv)) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await waitStarted(agent);
  const pid = agent.child.pid!;
  const metricsPort = agent.logs.find((l) => l.msg === "agent started")?.metricsPort as number;
  const { createWriteStream } = await import("node:fs");
  const feed = createWriteStream(gps.feed);
  const canFeed = can ? createWriteStream(can.feed) : undefined;
  const canLines = can ? readFileSync(CAN_LOG, "utf8").split("\n").filter(Boolean) : [];
  // A write stream without an 'error' listener turns a pty's EIO into an uncaught exception that ends the whole
  // report. A feed failing while we measure fails this run by name; once measuring is over the feeds are destroyed
  // (what they still hold was never going to be measured) and their late errors do not matter.
  let measuring = true;
  let feedFailure: Error | undefined;
  const onFeedError = (name: string) => (err: Error) => {
    if (measuring) feedFailure ??= new Error(`the ${name} feed pty failed while measuring: ${err.message}`);
  };
  feed.on("error", onFeedError("GPS"));
  canFeed?.on("error", onFeedError("CAN"));
  let n = 0;
  let c = 0;
  const timer = setInterval(() => {
    feed.write(nmeaEpoch(n++)); // a 100 Hz receiver
    if (!canFeed) return;
    let chunk = "";
    for (let i = 0; i < CAN_FRAMES_PER_SEC / 100; i++) chunk += `${canLines[c++ % canLines.length]}\n`;
    canFeed.write(chunk);
  }, 10);
  let peak = 0;
  // The agent's own drain rate (it runs with the unit's flags): from its first acknowledged record to the last one
  // of the backlog, read from its metrics endpoint every 20 ms while it drains.
  let first: { at: number; acked: number } | undefined;
  let drained: { at: number; cpu: number } | undefined;
  const until = Date.now() + RSS_SECONDS * 1000;
  while (Date.now() < until) {
    peak = Math.max(peak, rssMb(pid));
    if (!drained) {
      const acked = await ackedTelemetry(metricsPort);
      if (!first && acked > 0) first = { at: performance.now(), acked };
      if (acked >= RSS_BACKLOG) drained = { at: performance.now(), cpu: cpuSeconds(pid) };
    }
    await new Promise((r) => setTimeout(r, drained ? 100 : 20));
  }
  const end = { at: performance.now(), cpu: cpuSeconds(pid) };
  clearInterval(timer);
  measuring = false;
  feed.destroy();
  canFeed?.destroy();
  agent.child.kill("SIGTERM");
  await agent.exited;
  await gps.close();
  await can?.close();
  if (feedFailure) throw feedFailure;
  // Reference: node doing nothing.
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 1500));
  const bareMb = rssMb(bare.pid!);
  bare.kill("SIGKILL");
  return {
    peakMb: peak,
    bareMb,
    // NaN when the agent did not drain the backlog within the window (the figure is then missing, not invented).
    drainPerSec: first && drained ? ((RSS_BACKLOG - first.acked) * 1000) / (drained.at - first.at) : NaN,
    // CPU share of one core after the drain: recording the 100 Hz GPS (a record per fix), committing, publishing.
    recordingCpuPct: drained ? (100 * (end.cpu - drained.cpu) * 1000) / (end.at - drained.at) : NaN,
    committed: logLevel === "debug" ? agent.committed("telemetry") : undefined,
  };
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
    const unit = readUnit(REPO, "deploy/pi/fleetsync-agent.service", "agent");
    execFileSync(
      process.execPath,
      [join(REPO, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", BUILT],
      { cwd: REPO, stdio: "ignore" },
    );
    const plain = await benchRss(dir, broker, { name: "plain", unit: undefined });
    // The unit without its node flags (how it ran before they were added): what the flags buy and what they cost.
    const noFlags = await benchRss(dir, broker, { name: "env", unit: { nodeArgs: [], env: unit.env } });
    const r = await benchRss(dir, broker, { name: "unit", unit });
    const truck = await benchRss(dir, broker, { name: "truck", unit, truck: true });
    const settings = [
      ...Object.entries(unit.env).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
      `node ${unit.nodeArgs.join(" ")}`,
    ].join(" ");
    console.log(
      `agent RSS:      peak ${r.peakMb.toFixed(1)} MB as the systemd unit runs it (${settings}; built JS, draining ${RSS_BACKLOG.toLocaleString("en")} + recording a 100 Hz GPS) | plain node, no settings: ${plain.peakMb.toFixed(1)} MB (debug log level; ${plain.committed} records committed) | bare node: ${r.bareMb.toFixed(1)} MB  (target <= 80 MB)`,
    );
    console.log(
      `                the unit's Environment= without its node flags: ${noFlags.peakMb.toFixed(1)} MB | as on a truck (the unit's settings, TLS to the broker, + CAN at ${CAN_FRAMES_PER_SEC.toLocaleString("en")} frames/s): ${truck.peakMb.toFixed(1)} MB`,
    );
    console.log(
      `agent process:  drains ${r.drainPerSec.toFixed(0)} records/s and uses ${r.recordingCpuPct.toFixed(1)} % of a core recording, as the unit runs it | without the node flags: ${noFlags.drainPerSec.toFixed(0)} records/s, ${noFlags.recordingCpuPct.toFixed(1)} % | as on a truck: ${truck.drainPerSec.toFixed(0)} records/s, ${truck.recordingCpuPct.toFixed(1)} %  (drain target >= 5,000/s)`,
    );
    console.log(
      JSON.stringify({
        "agent.outboxAppendPerSec": Math.round(a.outboxPerSec),
        "agent.drainRecordsPerSec": Math.round(d.perSec),
        "agent.rssMb": Math.round(r.peakMb * 10) / 10,
        "agent.rssMbWithoutUnitSettings": Math.round(plain.peakMb * 10) / 10,
        "agent.rssMbWithoutNodeFlags": Math.round(noFlags.peakMb * 10) / 10,
        "agent.rssMbTruck": Math.round(truck.peakMb * 10) / 10,
        "agent.unitDrainRecordsPerSec": Math.round(r.drainPerSec),
        "agent.unitDrainRecordsPerSecWithoutNodeFlags": Math.round(noFlags.drainPerSec),
        "agent.unitRecordingCpuPct": Math.round(r.recordingCpuPct * 10) / 10,
        "agent.unitRecordingCpuPctWithoutNodeFlags": Math.round(noFlags.recordingCpuPct * 10) / 10,
        "agent.diskBytesPerRecord": Math.round(a.diskBytesPerRecord * 10) / 10,
      }),
    );
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
