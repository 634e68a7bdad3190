/**
 * The agent's metrics, served as Prometheus text (exposition format 0.0.4) on loopback, filled at scrape time from
 * the components' counters.
 *
 * Written by hand instead of with prom-client: the agent has a few dozen fixed series, and prom-client with its
 * default process metrics keeps about 1.1 MB of live heap (its modules, @opentelemetry/api for exemplars, a t-digest
 * library, an event-loop-delay histogram). V8 lets the agent's heap grow to about twice its live set before a full
 * GC, so each live MB costs about 2 MB of peak RSS against the 80 MB target (`npm run bench:agent`).
 * Each instance keeps its own counters, so two agents in one test process do not collide.
 */
import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getHeapSpaceStatistics } from "node:v8";
import { listenOn } from "../common/listen.ts";
import type { Outbox } from "./outbox/index.ts";
import type { PortSource } from "./sources/index.ts";
import type { GnssTimeCounters } from "./state/index.ts";
import type { Uplink } from "./uplink/index.ts";

const PREFIX = "fleetsync_agent_";
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const CHANNELS = ["telemetry", "events"] as const;
const START_TIME_S = Math.round(Date.now() / 1000 - process.uptime());

export type Labels = Record<string, string>;

/** A counter with labels; at most `maxSeries` label sets (the agent uses channel x reason: 6). */
export interface LabeledCounter {
  inc(labels: Labels, by?: number): void;
}

/** A serial source as the metrics see it: which one, on which path. */
export interface SerialPortView {
  source: "gps" | "can";
  path: string;
  port: Pick<PortSource, "counters" | "isOpen">;
}

export interface AgentMetrics {
  /** Counts records the agent could not put into the outbox, by reason (busy, invalid, error). */
  recordsRefused: LabeledCounter;
  /** The whole exposition, as served on /metrics. */
  render(): Promise<string>;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

type Sample = [labels: Labels | undefined, value: number];

/** Prometheus label values escape backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function family(name: string, type: "gauge" | "counter", help: string, samples: Sample[]): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) {
    const l = labels
      ? `{${Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(",")}}`
      : "";
    out += `${name}${l} ${Number.isFinite(value) ? value : "NaN"}\n`;
  }
  return out;
}

function createCounter(maxSeries: number): LabeledCounter & { samples(): Sample[] } {
  const series = new Map<string, { labels: Labels; value: number }>();
  return {
    inc(labels, by = 1) {
      const key = JSON.stringify(labels);
      const s = series.get(key);
      if (s) s.value += by;
      else if (series.size < maxSeries) series.set(key, { labels: { ...labels }, value: by });
    },
    samples: () => [...series.values()].map((s): Sample => [s.labels, s.value]),
  };
}

/** Seconds since the time of the oldest record waiting in a channel (0 when none waits, or it cannot be read). */
async function backlogAgeSeconds(outbox: Outbox, channel: (typeof CHANNELS)[number]): Promise<number> {
  if (outbox.committedNext(channel) <= outbox.firstSeq(channel)) return 0;
  // A peek: looking at the oldest record's time must not mark it in flight (that would keep it from thinning).
  const [head] = await outbox.read(channel, outbox.firstSeq(channel), 1, { peek: true }).catch(() => []);
  return head ? Math.max(0, (Date.now() - Date.parse(head.ts)) / 1000) : 0;
}

/** The time a setImmediate callback waits right now: the event loop's current lag (as prom-client measures it). */
function eventLoopLagSeconds(): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => setImmediate(() => resolve(Number(process.hrtime.bigint() - start) / 1e9)));
}

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length - 1; // minus the descriptor readdir itself held
  } catch {
    return Number.NaN; // not Linux
  }
}

/** Process metrics (RSS, heap, event-loop lag, handles, CPU): a Pi has little memory and an SD card to spare. */
async function processFamilies(): Promise<string[]> {
  const lag = await eventLoopLagSeconds();
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const spaces = getHeapSpaceStatistics();
  const space = (pick: (s: (typeof spaces)[number]) => number): Sample[] =>
    spaces.map((s): Sample => [{ space: s.space_name.replace(/_space$/, "") }, pick(s)]);
  const p = PREFIX;
  return [
    family(`${p}process_cpu_user_seconds_total`, "counter", "User CPU time spent in seconds.", [
      [undefined, cpu.user / 1e6],
    ]),
    family(`${p}process_cpu_system_seconds_total`, "counter", "System CPU time spent in seconds.", [
      [undefined, cpu.system / 1e6],
    ]),
    family(`${p}process_start_time_seconds`, "gauge", "Start time of the process since unix epoch in seconds.", [
      [undefined, START_TIME_S],
    ]),
    family(`${p}process_resident_memory_bytes`, "gauge", "Resident memory size in bytes.", [[undefined, mem.rss]]),
    family(`${p}process_open_fds`, "gauge", "Number of open file descriptors.", [[undefined, openFds()]]),
    family(`${p}nodejs_eventloop_lag_seconds`, "gauge", "Lag of event loop in seconds.", [[undefined, lag]]),
    family(`${p}nodejs_active_resources_total`, "gauge", "Number of active resources keeping the loop alive.", [
      [undefined, process.getActiveResourcesInfo().length],
    ]),
    family(`${p}nodejs_heap_size_total_bytes`, "gauge", "Process heap size from Node.js in bytes.", [
      [undefined, mem.heapTotal],
    ]),
    family(`${p}nodejs_heap_size_used_bytes`, "gauge", "Process heap size used from Node.js in bytes.", [
      [undefined, mem.heapUsed],
    ]),
    family(`${p}nodejs_external_memory_bytes`, "gauge", "Node.js external memory size in bytes.", [
      [undefined, mem.external],
    ]),
    family(
      `${p}nodejs_heap_space_size_total_bytes`,
      "gauge",
      "Process heap space size total in bytes.",
      space((s) => s.space_size),
    ),
    family(
      `${p}nodejs_heap_space_size_used_bytes`,
      "gauge",
      "Process heap space size used in bytes.",
      space((s) => s.space_used_size),
    ),
    family(`${p}nodejs_version_info`, "gauge", "Node.js version info.", [[{ version: process.version }, 1]]),
  ];
}

/**
 * Per serial port: whether it is open, and what came through or went wrong. A port that never opens (a wrong path in
 * the configuration) shows as open 0 with open errors rising, which is what an operator needs to see.
 */
function portFamilies(ports: readonly SerialPortView[]): string[] {
  const each = (pick: (p: SerialPortView) => number): Sample[] =>
    ports.map((p): Sample => [{ source: p.source, path: p.path }, pick(p)]);
  const counter = (p: SerialPortView, name: string) => p.port.counters()[name] ?? 0;
  const f = (name: string, type: "gauge" | "counter", help: string, pick: (p: SerialPortView) => number) =>
    family(PREFIX + name, type, help, each(pick));
  return [
    f("serial_port_open", "gauge", "1 while the serial port is open.", (p) => (p.port.isOpen() ? 1 : 0)),
    f("serial_opens_total", "counter", "Times the port was opened.", (p) => counter(p, "opens")),
    f("serial_errors_total", "counter", "Open failures and port errors.", (p) => counter(p, "errors")),
    f("serial_lost_total", "counter", "Times the device went away while open.", (p) => counter(p, "lost")),
    f("serial_bytes_total", "counter", "Bytes read from the port.", (p) => counter(p, "bytes")),
    f("serial_lines_total", "counter", "Lines read from the port.", (p) => counter(p, "lines")),
    f("serial_lines_cut_total", "counter", "Lines cut at maxLineBytes.", (p) => counter(p, "tooLong")),
  ];
}

/** What the metrics read besides the outbox and the uplink; each absent one exports nothing. */
export interface AgentMetricsViews {
  ports?: () => readonly SerialPortView[];
  gnssTime?: () => GnssTimeCounters | undefined;
}

export function createAgentMetrics(outbox: Outbox, uplink: Uplink, views: AgentMetricsViews = {}): AgentMetrics {
  const ports = views.ports ?? (() => []);
  const gnssTime = views.gnssTime ?? (() => undefined);
  const recordsRefused = createCounter(16);

  async function render(): Promise<string> {
    const stats = outbox.stats();
    const o = stats.channels;
    const u = uplink.stats();
    type ChannelStats = (typeof o)["telemetry"];
    const perChannel = (name: string, type: "gauge" | "counter", help: string, pick: (s: ChannelStats) => number) =>
      family(
        PREFIX + name,
        type,
        help,
        CHANNELS.map((c): Sample => [{ channel: c }, pick(o[c])]),
      );
    const one = (name: string, type: "gauge" | "counter", help: string, value: number) =>
      family(PREFIX + name, type, help, [[undefined, value]]);
    const ages = await Promise.all(CHANNELS.map((c) => backlogAgeSeconds(outbox, c)));
    const parts = [
      ...(await processFamilies()),
      family(
        `${PREFIX}outbox_backlog_age_seconds`,
        "gauge",
        "Age of the oldest record waiting in the outbox (its own time to now; 0: none waiting).",
        CHANNELS.map((c, i): Sample => [{ channel: c }, ages[i]!]),
      ),
      perChannel("outbox_records", "gauge", "Records in the outbox waiting for PUBACK (committed).", (s) => s.stored),
      perChannel("outbox_pending_records", "gauge", "Records appended, not yet committed.", (s) => s.pending),
      perChannel("outbox_bytes", "gauge", "Bytes of records stored in the outbox (budget units).", (s) => s.bytes),
      perChannel("outbox_appended_total", "counter", "Records appended since start.", (s) => s.appended),
      perChannel("outbox_acked_total", "counter", "Records acknowledged by the broker and removed.", (s) => s.acked),
      perChannel(
        "outbox_dropped_total",
        "counter",
        "Records dropped because the disk budget was full.",
        (s) => s.dropped,
      ),
      perChannel(
        "outbox_thinned_total",
        "counter",
        "Telemetry records removed by thinning (outbox.whenFull thin-then-drop), each range announced by a thinned event.",
        (s) => s.thinned,
      ),
      family(
        `${PREFIX}outbox_when_full_info`,
        "gauge",
        "The outbox's when-full policy (outbox.whenFull), as a label.",
        [[{ policy: stats.whenFull }, 1]],
      ),
      perChannel("outbox_next_seq", "gauge", "The next seq of the channel.", (s) => s.nextSeq),
      perChannel(
        "outbox_recovery_lost_total",
        "counter",
        "seqs announced by a recovery gap event (not brought back after a crash; an upper bound).",
        (s) => s.lost,
      ),
      one(
        "outbox_disk_free_bytes",
        "gauge",
        "Free bytes on the outbox's file system at the last commit (statfs).",
        stats.diskFreeBytes,
      ),
      one("outbox_commit_errors_total", "counter", "Outbox commits that failed (retried).", stats.commitErrors),
      one("outbox_reopens_total", "counter", "Times the outbox store was reopened after failures.", stats.reopens),
      one("mqtt_connected", "gauge", "1 while connected to the broker.", u.connected ? 1 : 0),
      one("mqtt_connects_total", "counter", "Successful connections.", u.connects),
      one("mqtt_disconnects_total", "counter", "Connections lost.", u.disconnects),
      one("mqtt_published_records_total", "counter", "Records published (incl. resends).", u.recordsPublished),
      one("mqtt_published_bytes_total", "counter", "Payload bytes published.", u.bytesPublished),
      one("mqtt_publish_errors_total", "counter", "Publishes refused or lost.", u.publishErrors),
      one(
        "uplink_drain_paced_waits_total",
        "counter",
        "Times the drain pacing (broker.drainBytesPerSecond) held a batch back. The drain rate is rate(mqtt_published_bytes_total).",
        u.drainPacedWaits,
      ),
      one(
        "uplink_latest_published_total",
        "counter",
        "Current-state records sent on the latest lane (fleet.latest).",
        u.latestPublished,
      ),
      one("uplink_latest_acked_total", "counter", "Latest-lane records the bridge acknowledged.", u.latestAcked),
      ...portFamilies(ports()),
      family(
        `${PREFIX}records_refused_total`,
        "counter",
        "Records the agent could not put into the outbox.",
        recordsRefused.samples(),
      ),
    ];
    const g = gnssTime();
    if (g) {
      parts.push(
        one("gnss_time_accepted_total", "counter", "GNSS times that set the clock.", g.accepted),
        one(
          "gnss_time_rollovers_total",
          "counter",
          "GNSS dates corrected for a GPS week rollover.",
          g.rolloversCorrected,
        ),
        family(
          `${PREFIX}gnss_time_refused_total`,
          "counter",
          "GNSS times refused as the clock: no-fix, implausible-date, jump (agent/state/gnss-time.ts).",
          Object.entries(g.refused).map(([reason, n]): Sample => [{ reason }, n]),
        ),
      );
    }
    return parts.join("");
  }

  let server: Server | undefined;
  return {
    recordsRefused,
    render,
    async listen(host, port) {
      server = createServer((req, res) => {
        if (req.url !== "/metrics") {
          res.writeHead(404).end();
          return;
        }
        render().then(
          (text) => res.writeHead(200, { "content-type": CONTENT_TYPE }).end(text),
          (error: unknown) => res.writeHead(500).end(String(error)),
        );
      });
      // By default 9108: a second agent on the machine is the likely holder.
      await listenOn(server, {
        host,
        port,
        field: "metrics.port",
        holder: "another program (another agent?)",
        orElse: "set metrics.enabled false",
      });
      server.unref();
      return (server.address() as AddressInfo).port;
    },
    async close() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
