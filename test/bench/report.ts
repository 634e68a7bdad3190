/**
 * `npm run bench [-- --quick]`: one report over the eight benchmark scripts (wire, decode, agent, bridge, map,
 * history, detect, fleet). Each runs as its own process, one after the other (a 2-core machine has no core to spare
 * for two at once), and prints its figures beside the reference it measured in the same run; their output is shown
 * as it comes. Then a table of the figures with their references and ratios (ratios are what compare across
 * machines), the machine they ran on, and as the last line one JSON object with exactly the report's thirty-seven
 * figures.
 *
 * --quick: shorter runs and fewer connections (BENCH_* settings below), for a smoke check; figures are noisier.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const REPO = resolve(import.meta.dirname, "../..");

/** The report's figures, in the order of the final JSON line. */
export const REPORT_FIELDS = [
  "bridge.recordsPerSec",
  "bridge.publishesPerSec",
  "bridge.latencyMsP50",
  "bridge.latencyMsP99",
  "bridge.connectionsHeld",
  "bridge.rssKbPerConnection",
  "reference.kafkaPerfTestRecordsPerSec",
  "reference.aedesQos1PublishesPerSec",
  "agent.canFramesPerSec",
  "agent.nmeaSentencesPerSec",
  "agent.outboxAppendPerSec",
  "agent.drainRecordsPerSec",
  "agent.rssMb",
  "wire.bytesPerRecordBatch10",
  "wire.bytesPerRecordSingle",
  "wire.codec8BytesPerRecord",
  "map.recordsPerSec",
  "map.consumerRecordsPerSec",
  "map.latencyMsP99",
  "map.fps10k",
  "map.longestFrameMs10k",
  "map.fps100",
  "map.rssMb",
  "history.recordsPerSec",
  "history.copyRowsPerSec",
  "history.replayMillionSec",
  "history.rssMbDatabaseDown",
  "detect.recordsPerSec",
  "detect.consumerRecordsPerSec",
  "detect.stateBytesPerTruck",
  "detect.alertLatencyMsP99",
  "fleet.trucksAtP99Under50ms",
  "reference.aedesFleetTrucksAtP99Under50ms",
  "fleet.rssKbPerTruck",
  "fleet.cpuUsPerRecord",
  "fleet.stormDrainSec",
  "bridge.eventLoopDelayMsP99",
] as const;

interface Script {
  name: string;
  file: string;
  quickEnv: Record<string, string>;
}

const SCRIPTS: Script[] = [
  { name: "wire", file: "test/bench/wire.ts", quickEnv: {} },
  { name: "decode", file: "test/bench/decode.ts", quickEnv: { BENCH_SECONDS: "1" } },
  { name: "agent", file: "test/bench/agent.ts", quickEnv: { BENCH_APPEND_N: "20000", BENCH_DRAIN_N: "10000" } },
  { name: "bridge", file: "test/bench/bridge.ts", quickEnv: { BENCH_SECONDS: "3", BENCH_CONNECTIONS: "2000" } },
  { name: "map", file: "test/bench/map.ts", quickEnv: { BENCH_SECONDS: "15" } },
  { name: "history", file: "test/bench/history.ts", quickEnv: { BENCH_HISTORY_N: "50000" } },
  { name: "detect", file: "test/bench/detect.ts", quickEnv: { BENCH_DETECT_TRUCKS: "4000", BENCH_DETECT_LIVE: "100" } },
  {
    name: "fleet",
    file: "test/bench/fleet.ts",
    quickEnv: { BENCH_FLEET_STEPS: "500,1000", BENCH_FLEET_SECONDS: "5", BENCH_STORM_TRUCKS: "500" },
  },
];

interface ScriptResult {
  name: string;
  ok: boolean;
  seconds: number;
  /** The script's last JSON line. */
  figures: Record<string, unknown>;
  /** Everything it printed, for the references only its text gives. */
  text: string;
}

async function runScript(script: Script, quick: boolean): Promise<ScriptResult> {
  const began = Date.now();
  process.stdout.write(`\n=== ${script.name} (${script.file})\n`);
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO, script.file)], {
    cwd: REPO,
    env: { ...process.env, ...(quick ? script.quickEnv : {}) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let text = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    text += chunk;
    process.stdout.write(chunk.replace(/^(?=.)/gm, "  "));
  });
  const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
  const lastJson = text
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.trim().startsWith("{"));
  let figures: Record<string, unknown> = {};
  try {
    figures = lastJson ? (JSON.parse(lastJson) as Record<string, unknown>) : {};
  } catch {}
  const ok = code === 0 && lastJson !== undefined;
  if (!ok) process.stdout.write(`  !! ${script.name} failed (exit ${code}); its figures are missing\n`);
  return { name: script.name, ok, seconds: (Date.now() - began) / 1000, figures, text };
}

function numberOf(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A figure only the script's text gives ("... ratio 0.83", "bare node: 48.2 MB"). */
function fromText(text: string, pattern: RegExp): number | null {
  const m = pattern.exec(text);
  return m ? Number(m[1]) : null;
}

export function machine(): string {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {}
  const gib = (totalmem() / 1024 ** 3).toFixed(1);
  return `${cpus().length} CPUs (nproc), ${model}, ${gib} GiB memory, Node ${process.versions.node}, ${process.platform}/${process.arch}`;
}

const fmt = (v: number | null, digits = 0) =>
  v === null ? "-" : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
}

function table(rows: Row[]): string {
  const head: Row = { figure: "figure", value: "value", reference: "reference (same run)", ratio: "ratio" };
  const w = (k: keyof Row) => Math.max(...[head, ...rows].map((r) => r[k].length));
  const line = (r: Row) =>
    `${r.figure.padEnd(w("figure"))}  ${r.value.padStart(w("value"))}  ${r.reference.padEnd(w("reference"))}  ${r.ratio.padStart(w("ratio"))}`;
  return [line(head), "-".repeat(line(head).length), ...rows.map(line)].join("\n");
}

export function buildReport(results: ScriptResult[]): { rows: Row[]; json: Record<string, number | null> } {
  const all: Record<string, unknown> = Object.assign({}, ...results.map((r) => r.figures));
  const f = (key: string) => numberOf(all[key]);
  const text = (name: string) => results.find((r) => r.name === name)?.text ?? "";
  const agentText = text("agent");

  const json = Object.fromEntries(REPORT_FIELDS.map((k) => [k, f(k)])) as Record<string, number | null>;
  const canRef = ratio(f("agent.canFramesPerSec"), f("agent.canVsJsonParse"));
  const nmeaRef = ratio(f("agent.nmeaSentencesPerSec"), f("agent.nmeaVsJsonParse"));
  const appendRef = fromText(agentText, /raw LevelDB batch put of the same bytes: (\d+)\/s/);
  const drainRef = fromText(agentText, /raw MQTT\.js publishing the same ready-made payloads, same window: (\d+)\/s/);
  const bareMb = fromText(agentText, /bare node: ([\d.]+) MB/);
  const r = (a: number | null, b: number | null) => {
    const x = ratio(a, b);
    return x === null ? "-" : `${x.toFixed(2)}x`;
  };
  const rows: Row[] = [
    {
      figure: "wire: bytes/record, batches of 10",
      value: fmt(json["wire.bytesPerRecordBatch10"]!, 1),
      reference: `Teltonika Codec 8 record: ${fmt(json["wire.codec8BytesPerRecord"]!, 1)} B`,
      ratio: r(json["wire.bytesPerRecordBatch10"]!, json["wire.codec8BytesPerRecord"]!),
    },
    {
      figure: "wire: bytes, one-record payload",
      value: fmt(json["wire.bytesPerRecordSingle"]!, 1),
      reference: `Codec 8 one-record packet: ${fmt(f("wire.codec8BytesSinglePacket"), 1)} B`,
      ratio: r(json["wire.bytesPerRecordSingle"]!, f("wire.codec8BytesSinglePacket")),
    },
    {
      figure: "agent: CAN frames/s decoded (one core)",
      value: fmt(json["agent.canFramesPerSec"]!),
      reference: `JSON.parse of a line per frame: ${fmt(canRef)}/s`,
      ratio: r(json["agent.canFramesPerSec"]!, canRef),
    },
    {
      figure: "agent: NMEA sentences/s decoded",
      value: fmt(json["agent.nmeaSentencesPerSec"]!),
      reference: `JSON.parse of the fields: ${fmt(nmeaRef)}/s`,
      ratio: r(json["agent.nmeaSentencesPerSec"]!, nmeaRef),
    },
    {
      figure: "agent: outbox appends/s (fsync)",
      value: fmt(json["agent.outboxAppendPerSec"]!),
      reference: `raw LevelDB batch put: ${fmt(appendRef)}/s`,
      ratio: r(json["agent.outboxAppendPerSec"]!, appendRef),
    },
    {
      figure: "agent: backlog drain records/s (in-process)",
      value: fmt(json["agent.drainRecordsPerSec"]!),
      reference: `raw MQTT.js, same payloads: ${fmt(drainRef)}/s`,
      ratio: r(json["agent.drainRecordsPerSec"]!, drainRef),
    },
    {
      figure: "agent: drain records/s, as the unit runs it",
      value: fmt(f("agent.unitDrainRecordsPerSec")),
      reference: `same without its node flags: ${fmt(f("agent.unitDrainRecordsPerSecWithoutNodeFlags"))}/s`,
      ratio: r(f("agent.unitDrainRecordsPerSec"), f("agent.unitDrainRecordsPerSecWithoutNodeFlags")),
    },
    {
      figure: "agent: peak RSS, MB",
      value: fmt(json["agent.rssMb"]!, 1),
      reference: `bare node: ${fmt(bareMb, 1)} MB`,
      ratio: r(json["agent.rssMb"]!, bareMb),
    },
    {
      figure: "agent: peak RSS, MB, with TLS and CAN",
      value: fmt(f("agent.rssMbTruck"), 1),
      reference: `unit without its node flags: ${fmt(f("agent.rssMbWithoutNodeFlags"), 1)} MB`,
      ratio: r(f("agent.rssMbTruck"), f("agent.rssMbWithoutNodeFlags")),
    },
    {
      figure: "bridge: records/s (10 per publish)",
      value: fmt(json["bridge.recordsPerSec"]!),
      reference: `kafka-producer-perf-test: ${fmt(json["reference.kafkaPerfTestRecordsPerSec"]!)}/s`,
      ratio: r(json["bridge.recordsPerSec"]!, json["reference.kafkaPerfTestRecordsPerSec"]!),
    },
    {
      figure: "bridge: publishes/s (1 record each)",
      value: fmt(json["bridge.publishesPerSec"]!),
      reference: `plain Aedes QoS 1: ${fmt(json["reference.aedesQos1PublishesPerSec"]!)}/s`,
      ratio: r(json["bridge.publishesPerSec"]!, json["reference.aedesQos1PublishesPerSec"]!),
    },
    {
      figure: "bridge: forwarder slice FIFO, CPU us/record",
      value: fmt(f("bridge.sliceUsPerRecord"), 2),
      reference: `${fmt(ratio(f("bridge.sliceCpuShare"), 0.01), 1)}% of the bridge's CPU, 1 record per publish`,
      ratio: "",
    },
    {
      figure: "bridge: latency publish->consumer p50/p99 ms",
      value: `${fmt(json["bridge.latencyMsP50"]!)} / ${fmt(json["bridge.latencyMsP99"]!)}`,
      reference: "at 5,000 records/s",
      ratio: "",
    },
    {
      figure: "map: records/s consumed (catch-up)",
      value: fmt(json["map.recordsPerSec"]!),
      reference: `bare kafkajs consumer: ${fmt(json["map.consumerRecordsPerSec"]!)}/s`,
      ratio: r(json["map.recordsPerSec"]!, json["map.consumerRecordsPerSec"]!),
    },
    {
      figure: "map: Kafka record -> browser p99 ms",
      value: fmt(json["map.latencyMsP99"]!),
      reference: `10,000 trucks at 1 record/s, p50 ${fmt(f("map.latencyMsP50"))} ms`,
      ratio: "",
    },
    {
      figure: "map: page fps / longest frame ms, 10k",
      value: `${fmt(json["map.fps10k"]!, 1)} / ${fmt(json["map.longestFrameMs10k"]!)}`,
      reference: `100 trucks: ${fmt(json["map.fps100"]!, 1)} fps / ${fmt(f("map.longestFrameMs100"))} ms`,
      ratio: r(json["map.fps10k"]!, json["map.fps100"]!),
    },
    {
      figure: "map: service peak RSS, MB (10k trucks)",
      value: fmt(json["map.rssMb"]!, 1),
      reference: "",
      ratio: "",
    },
    {
      figure: "bridge: RSS per idle connection, KB",
      value: fmt(json["bridge.rssKbPerConnection"]!, 1),
      reference: `with ${fmt(json["bridge.connectionsHeld"]!)} connections held`,
      ratio: "",
    },
    {
      figure: "history: records/s Kafka -> PostgreSQL",
      value: fmt(json["history.recordsPerSec"]!),
      reference: `plain COPY of the same rows: ${fmt(json["history.copyRowsPerSec"]!)}/s`,
      ratio: r(json["history.recordsPerSec"]!, json["history.copyRowsPerSec"]!),
    },
    {
      figure: "fleet: trucks at 1 record/s, p99 <= 50 ms",
      value: fmt(json["fleet.trucksAtP99Under50ms"]!),
      reference: `plain Aedes QoS 1: ${fmt(json["reference.aedesFleetTrucksAtP99Under50ms"]!)}`,
      ratio: r(json["fleet.trucksAtP99Under50ms"]!, json["reference.aedesFleetTrucksAtP99Under50ms"]!),
    },
    {
      figure: "fleet: bridge RSS KB/truck, CPU us/record",
      value: `${fmt(json["fleet.rssKbPerTruck"]!, 1)} / ${fmt(json["fleet.cpuUsPerRecord"]!, 1)}`,
      reference: `event loop delay p99 ${fmt(json["bridge.eventLoopDelayMsP99"]!, 1)} ms`,
      ratio: "",
    },
    {
      figure: "fleet: reconnect storm drain, s",
      value: fmt(json["fleet.stormDrainSec"]!, 1),
      reference: "every truck back at once, 10-minute backlog each",
      ratio: "",
    },
    {
      figure: "history: replay 1M records from earliest, s",
      value: fmt(json["history.replayMillionSec"]!, 1),
      reference: `RSS with the database down: ${fmt(json["history.rssMbDatabaseDown"]!, 1)} MB`,
      ratio: "",
    },
    {
      figure: "detect: records/s through five detectors",
      value: fmt(json["detect.recordsPerSec"]!),
      reference: `bare kafkajs consumer: ${fmt(json["detect.consumerRecordsPerSec"]!)}/s`,
      ratio: r(json["detect.recordsPerSec"]!, json["detect.consumerRecordsPerSec"]!),
    },
    {
      figure: "detect: Kafka record -> alert readable p99 ms",
      value: fmt(json["detect.alertLatencyMsP99"]!),
      reference: `state per truck: ${fmt(json["detect.stateBytesPerTruck"]!)} bytes`,
      ratio: "",
    },
  ];
  return { rows, json };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const quick = values.quick ?? false;
  const began = Date.now();
  const load = loadavg()[0]!.toFixed(2);
  process.stdout.write(`FleetSync benchmark report${quick ? " (--quick)" : ""}\nmachine: ${machine()}\n`);
  const results: ScriptResult[] = [];
  for (const script of SCRIPTS) results.push(await runScript(script, quick));
  const { rows, json } = buildReport(results);
  process.stdout.write(
    `\n=== report${quick ? " (--quick)" : ""}: ${((Date.now() - began) / 1000).toFixed(0)} s, ` +
      `load average at start ${load}\nmachine: ${machine()}\n${table(rows)}\n`,
  );
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  const missing = REPORT_FIELDS.filter((k) => json[k] === null);
  if (failed.length > 0 || missing.length > 0) {
    process.stdout.write(`failed: ${failed.join(", ") || "none"}; figures missing: ${missing.join(", ")}\n`);
  }
  process.stdout.write(`${JSON.stringify(json)}\n`);
  return failed.length > 0 || missing.length > 0 ? 1 : 0;
}

process.exitCode = await main();
