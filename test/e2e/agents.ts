/**
 * Agents for end-to-end runs, two ways, both the real pipeline (serial sources on socat ptys → state → sampler →
 * LevelDB outbox on disk → MQTT uplink over TCP):
 * - in this process (createAgent with agent/sources' serial sources), so twenty trucks fit on a 2-core machine;
 *   the handles let a run stop taking records (sources and sampler) while the uplink keeps draining, which is how
 *   a run learns exactly how many records each truck made;
 * - as `fleetsync agent --config FILE` child processes (the demo, and faults that kill the agent), observed through
 *   the agent's own metrics endpoint.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pino } from "pino";
import { type Agent, type AgentConfigInput, createAgent, parseAgentConfig } from "../../agent/index.ts";
import { type CanSource, createCanSource, createGpsSource, type GpsSource } from "../../agent/sources/index.ts";
import type { Logger } from "../../common/log.ts";
import type { DeviceInfo } from "../../sim/index.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { waitFor } from "../support/wait.ts";
import { REPO } from "./bridge.ts";
import { childLifecycle, type Exit } from "./child.ts";

export interface AgentPlan {
  truckId: string;
  device: DeviceInfo;
  brokerUrl: string;
  password: string;
  /** The agent's own folder (outbox, config, log). */
  dir: string;
  /** Metrics port; 0 = any; undefined = metrics off. */
  metricsPort?: number;
  /** Merged over the defaults below, one level deep (e.g. { broker: { maxBatchRecords: 5 } }). */
  overrides?: Partial<Record<keyof AgentConfigInput, unknown>>;
}

/**
 * A truck's agent configuration for tests: its sim devices, quick reconnects (a test must not wait two minutes of
 * backoff), and a sampler that takes a record every `tickMs` (20 ms: 50 records/s per truck), so hundreds of
 * records per truck take seconds, not the hours a real 5 s period would.
 */
export function agentConfig(plan: AgentPlan): AgentConfigInput {
  const o = plan.overrides ?? {};
  const merge = (key: keyof AgentConfigInput, base: Record<string, unknown>) => ({
    ...base,
    ...((o[key] as Record<string, unknown> | undefined) ?? {}),
  });
  const serial = { baudRate: 115_200, reconnectMinMs: 100, reconnectMaxMs: 1_000 };
  return {
    truckId: plan.truckId,
    ...(plan.device.gps ? { gps: merge("gps", { path: plan.device.gps, ...serial }) } : {}),
    ...(plan.device.can && plan.device.canProtocol !== "none"
      ? {
          can: merge("can", {
            path: plan.device.can,
            ...serial,
            format: plan.device.canProtocol,
            bitrate: 250_000,
          }),
        }
      : {}),
    broker: merge("broker", {
      url: plan.brokerUrl,
      password: plan.password,
      reconnectMinMs: 100,
      reconnectMaxMs: 1_000,
      keepaliveS: 10,
    }),
    outbox: merge("outbox", { dir: join(plan.dir, "outbox"), commitIntervalMs: 50 }),
    sampler: merge("sampler", { movingPeriodMs: 0, parkedPeriodMs: 0, minIntervalMs: 0, tickMs: 20 }),
    state: merge("state", {}),
    ...(o.clock ? { clock: o.clock } : {}),
    metrics:
      plan.metricsPort === undefined
        ? { enabled: false }
        : { enabled: true, host: "127.0.0.1", port: plan.metricsPort },
  } as AgentConfigInput;
}

export interface ChannelCounts {
  telemetry: number;
  events: number;
}

export interface InProcessAgent {
  readonly truckId: string;
  readonly agent: Agent;
  /** The real serial sources the agent reads (for their counters: opens, reopens, lost). */
  readonly gps: GpsSource | undefined;
  readonly can: CanSource | undefined;
  /** Records made so far (next seq per channel, committed or not). */
  made(): ChannelCounts;
  /** Records acknowledged by the bridge (so in Kafka) so far. */
  acked(): ChannelCounts;
  /** Records not yet acknowledged (all channels). */
  depth(): number;
  /** Stops taking records (sources, then sampler) and commits what was taken; the uplink keeps draining. */
  quiesce(): Promise<ChannelCounts>;
  stop(): Promise<void>;
}

function fileLogger(file: string): Logger {
  return pino(
    { level: "info", timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: file, sync: true }),
  );
}

export async function startInProcessAgent(plan: AgentPlan, version = "e2e"): Promise<InProcessAgent> {
  await mkdir(plan.dir, { recursive: true });
  const config = parseAgentConfig(agentConfig(plan));
  let gps: GpsSource | undefined;
  let can: CanSource | undefined;
  const agent = createAgent(config, {
    version,
    logger: fileLogger(join(plan.dir, "agent.log")),
    sources: {
      createGpsSource: (c, deps) => (gps = createGpsSource(c, deps)),
      createCanSource: (c, deps) => (can = createCanSource(c, deps)),
    },
  });
  await agent.start();
  const next = (): ChannelCounts => {
    const s = agent.outbox.stats().channels;
    return { telemetry: s.telemetry.nextSeq, events: s.events.nextSeq };
  };
  let quiesced: Promise<ChannelCounts> | undefined;
  return {
    truckId: plan.truckId,
    agent,
    get gps() {
      return gps;
    },
    get can() {
      return can;
    },
    made: next,
    acked() {
      const s = agent.outbox.stats().channels;
      return { telemetry: s.telemetry.acked, events: s.events.acked };
    },
    depth: () => agent.outbox.depth(),
    quiesce() {
      quiesced ??= (async () => {
        // Sources first: a fix arriving after the sampler stopped would still call sampler.evaluate().
        await Promise.all([gps?.stop(), can?.stop()]);
        await agent.sampler.stop();
        await agent.outbox.flush();
        return next();
      })();
      return quiesced;
    },
    stop: () => agent.stop(),
  };
}

export interface AgentGauges {
  /** fleetsync_agent_outbox_next_seq per channel. */
  next: ChannelCounts;
  /** fleetsync_agent_outbox_acked_total per channel (since this process started). */
  acked: ChannelCounts;
  /** Committed and pending records not yet acknowledged, per channel. */
  waiting: ChannelCounts;
  dropped: ChannelCounts;
  /** fleetsync_agent_outbox_thinned_total per channel (since this process started; thin-then-drop). */
  thinned: ChannelCounts;
  connected: boolean;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly metricsPort: number;
  readonly exited: Promise<Exit>;
  /** The stream id the agent logged at start (undefined until it started). */
  stream(): string | undefined;
  started(): boolean;
  logTail(): string;
  scrape(): Promise<AgentGauges>;
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM (records not acknowledged stay in the outbox), SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

export async function writeAgentConfig(plan: AgentPlan): Promise<string> {
  await mkdir(plan.dir, { recursive: true });
  const file = join(plan.dir, "agent.json");
  await writeFile(file, `${JSON.stringify(agentConfig(plan), null, 2)}\n`);
  return file;
}

/**
 * How a run with agent processes ends: an agent on the truck's outbox with no sources (so it takes no telemetry;
 * its start event is all it adds) connects and drains what is left, then stops. Returns how many seqs the outbox
 * ever gave per channel: what the verifier must find in Kafka. `track` gets the process at once, so the caller's
 * clean-up stops it when the wait fails.
 */
export async function drainWithoutSources(
  plan: AgentPlan & { metricsPort: number },
  track: (agent: AgentProcess) => void,
  timeoutMs = 60_000,
): Promise<ChannelCounts> {
  const file = await writeAgentConfig({ ...plan, device: { ...plan.device, gps: null, can: null } });
  const agent = spawnAgent(file, plan.metricsPort);
  track(agent);
  const final = await waitFor(
    async () => {
      const g = await agent.scrape().catch(() => undefined);
      return g && g.connected && g.waiting.telemetry === 0 && g.waiting.events === 0 ? g : undefined;
    },
    `${plan.truckId}'s outbox drained by an agent without sources`,
    { timeoutMs, intervalMs: 100 },
  );
  await agent.stop();
  return final.next;
}

/** Parses the agent's Prometheus text into the few gauges runs look at. */
export function parseAgentMetrics(text: string): AgentGauges {
  const pick = (name: string, channel: string): number => {
    const m = new RegExp(`^${name}\\{channel="${channel}"\\} (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  const both = (name: string): ChannelCounts => ({
    telemetry: pick(name, "telemetry"),
    events: pick(name, "events"),
  });
  const stored = both("fleetsync_agent_outbox_records");
  const pending = both("fleetsync_agent_outbox_pending_records");
  return {
    next: both("fleetsync_agent_outbox_next_seq"),
    acked: both("fleetsync_agent_outbox_acked_total"),
    waiting: { telemetry: stored.telemetry + pending.telemetry, events: stored.events + pending.events },
    dropped: both("fleetsync_agent_outbox_dropped_total"),
    thinned: both("fleetsync_agent_outbox_thinned_total"),
    connected: /^fleetsync_agent_mqtt_connected 1$/m.test(text),
  };
}

/**
 * `fleetsync agent --config FILE` as one node process (no npx or tsx wrapper, so SIGKILL hits the agent itself).
 * `detached` puts it in its own process group: the demo uses it so a terminal's Ctrl-C reaches only the demo,
 * which then stops the agents itself, in order.
 */
export function spawnAgent(
  configFile: string,
  metricsPort: number,
  options: { detached?: boolean } = {},
): AgentProcess {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "agent", "--config", configFile], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
    detached: options.detached ?? false,
    env: { ...process.env, FLEETSYNC_LOG_LEVEL: "info" },
  });
  let tail = "";
  let pending = "";
  let stream: string | undefined;
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.includes('"agent started"')) continue;
      try {
        stream = (JSON.parse(line) as { stream?: string }).stream;
      } catch {}
    }
  });
  const { exited, kill, stop } = childLifecycle(child, 15_000);
  return {
    child,
    metricsPort,
    exited,
    stream: () => stream,
    started: () => stream !== undefined,
    logTail: () => tail,
    async scrape() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(2_000) });
      if (!response.ok) throw new Error(`agent metrics: HTTP ${response.status}`);
      return parseAgentMetrics(await response.text());
    },
    kill,
    stop,
  };
}
