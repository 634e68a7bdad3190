/**
 * Load mode: one lean MQTT connection per simulated truck (lean-mqtt.ts), publishing protocol payloads (protocol/codec.ts)
 * directly to `fleetsync/v1/{truckId}/telemetry` with QoS 1, at a set rate and batch size, connections opened at a
 * set ramp. No outbox and no serial parsing: this measures the broker/bridge side. Each truck has one stream and a
 * seq that rises by one per record, so `fleetsync verify` can check what reached Kafka.
 * A refused publish (PUBACK reason code >= 0x80) goes back to the head of the queue and is sent again.
 *
 * The fleet's load shape (issue 21): N trucks each publishing one record every period, evenly spread over the
 * period (`spread`), connecting from several loopback source addresses (`sourceAddresses`) so one machine can hold
 * tens of thousands of connections, and a reconnect storm (`storm`): every truck drops at once and comes back at
 * once with a backlog to drain, as after a cellular outage over a region or a load balancer restart.
 *
 * Cheap on purpose, because it shares the cores with the broker it measures: no timer per truck, but one wheel of
 * `period / tickMs` slots, truck i in the slot of its phase, and each tick visits only the slots whose time has come
 * (plus a truck whose PUBACK just freed its window). A lost connection (refused, timed out, closed) comes back
 * after a backoff with jitter, as the agent's does (agent/uplink/backoff.ts), so a storm the broker cannot take at
 * once does not turn into every truck reconnecting every second.
 */
import { randomBytes } from "node:crypto";
import { backoffDelay } from "../../agent/uplink/backoff.ts";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import { encodeTelemetry, type TelemetryRecord, topicFor } from "../../protocol/index.ts";
import { createTruckModel, type TruckModel } from "../model/truck.ts";
import { telemetryRecord } from "../record.ts";
import { type LoadConfig, type LoadOptions, parseLoadOptions } from "./config.ts";
import { createLatencyRing } from "./latency.ts";
import { encodeTopic, LeanConnection } from "./lean-mqtt.ts";

export interface LoadStats {
  elapsedMs: number;
  trucks: number;
  connected: number;
  connectErrors: number;
  recordsGenerated: number;
  publishesSent: number;
  publishesAcked: number;
  recordsAcked: number;
  publishesRefused: number;
  /** Ticks in which a truck's pending queue was full and generation paused. */
  stalls: number;
  latencyMsP50: number | null;
  latencyMsP99: number | null;
  /** Reconnect storm: from "every truck reconnects" to "every truck's backlog acknowledged" (null: not yet/none). */
  stormDrainMs: number | null;
  /** Reconnect storm: from "every truck reconnects" to "every truck logged in again" (null: not yet/none). */
  stormConnectedMs: number | null;
}

export interface LoadSummary extends LoadStats {
  publishesAckedPerSec: number;
  recordsAckedPerSec: number;
  /** truck id -> its stream id and how many records it published (for `verify --expect`). */
  streams: Record<string, { stream: string; records: number }>;
  complete: boolean;
}

export interface LoadRun {
  start(): Promise<void>;
  /** Resolves when every truck has all its records acknowledged, or the duration is over and in-flight work drained. */
  readonly done: Promise<LoadSummary>;
  stats(): LoadStats;
  stop(): Promise<LoadSummary>;
}

interface Sim {
  truckId: string;
  /** The truck's index: its source address and its slot in the wheel. */
  index: number;
  /** `fleetsync/v1/{truckId}/telemetry` as it sits in a PUBLISH, encoded once. */
  topic: Buffer;
  /** Offset of this truck's publishes within the period (even spread). */
  phaseMs: number;
  /**
   * Run time (ms) of this truck's first record: its first phase time after it first connected, or that connect
   * time without the spread (-1: not connected yet).
   */
  firstDueMs: number;
  /** Records added by a reconnect storm (the backlog the truck comes back with). */
  backlog: number;
  /** Records that must be acknowledged for the storm's backlog to count as drained. */
  stormGoal: number;
  /** Publishes sent on the current connection and not yet answered, by packet id; a lost connection puts them back. */
  inflight: Map<number, Sent>;
  /**
   * Publishes encoded and sent before but not acknowledged (their connection was lost, or the broker refused them):
   * sent again, the same bytes, before anything new, as an agent resends from its outbox.
   */
  unsent: Encoded[];
  stream: string;
  model: TruckModel;
  connection: LeanConnection | null;
  /** Connection attempts since the last one that succeeded (the backoff's exponent). */
  attempts: number;
  reconnectTimer: NodeJS.Timeout | undefined;
  seq: number;
  generated: number;
  pending: TelemetryRecord[];
  acked: number;
  retryAt: number;
  retryTimer: NodeJS.Timeout | undefined;
}

/**
 * A publish as its encoded bytes. The generator keeps publishes this way, not as record objects: in a storm every
 * truck has one in flight at once, and 10,000 trucks × 100 records as objects (about 1 KB each) filled the
 * generator's heap until its garbage collector stalled it for minutes.
 */
interface Encoded {
  payload: Uint8Array;
  records: number;
}
interface Sent extends Encoded {
  sentAt: number;
}

const DRAIN_DEADLINE_MS = 5000;
/**
 * The agent's defaults (agent/uplink/config.ts): a connection attempt is given 30 s, and reconnect waits start at
 * 1 s and double to 60 s, each jittered 0.5x..1.5x. A shorter connect timeout turned a storm on a busy bridge into
 * churn: logins that were under way were abandoned and started again (10 s: 12,360 timeouts for 5,000 trucks).
 */
const CONNECT_TIMEOUT_MS = 30_000;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 60_000;

export function createLoadRun(options: LoadOptions, deps: { logger?: Logger } = {}): LoadRun {
  const config: LoadConfig = parseLoadOptions(options);
  const log = deps.logger ?? silentLogger;
  const latency = createLatencyRing(config.latencySamples);
  const periodMs = 1000 / config.ratePerTruck;
  const url = new URL(config.url);
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:")
    throw new FleetError("FLEET_CONFIG_INVALID", `sim load option url: ${url.protocol} is not mqtt: or mqtts:`);
  if (config.sourceAddresses && url.protocol !== "mqtt:")
    throw new FleetError("FLEET_CONFIG_INVALID", "sim load option sourceAddresses: only with an mqtt:// url");
  const c = { connectErrors: 0, publishesSent: 0, publishesAcked: 0, recordsAcked: 0, refused: 0, stalls: 0 };
  let connectedCount = 0;
  /** The wheel: `slots` slots of `slotMs` each, exactly one period; truck i sits in the slot of its phase. */
  const slots = Math.max(1, Math.round(periodMs / config.tickMs));
  const slotMs = periodMs / slots;
  const wheel: Sim[][] = Array.from({ length: slots }, () => []);
  const sims: Sim[] = config.truckIds.map((truckId, index) => {
    const phaseMs = config.spread ? (index / config.truckIds.length) * periodMs : 0;
    const sim: Sim = {
      truckId,
      index,
      topic: encodeTopic(topicFor(truckId, "telemetry")),
      phaseMs,
      firstDueMs: -1,
      backlog: 0,
      stormGoal: 0,
      inflight: new Map(),
      unsent: [],
      stream: randomBytes(8).toString("hex"),
      model: createTruckModel({ seed: `${config.seed}/${truckId}`, startTimeMs: Math.floor(Date.now() / 1000) * 1000 }),
      connection: null,
      attempts: 0,
      reconnectTimer: undefined,
      seq: 0,
      generated: 0,
      pending: [],
      acked: 0,
      retryAt: 0,
      retryTimer: undefined,
    };
    return sim;
  });
  let stormAt: number | undefined;
  let stormDrainMs: number | null = null;
  let stormConnectedMs: number | null = null;
  /** Trucks whose storm backlog is not acknowledged yet. */
  let stormLeft = 0;
  /** Pending records per truck: a storm's backlog is generated as it drains, not all at once (memory). */
  const pendingCap = config.storm
    ? Math.min(config.maxPendingRecords, config.storm.batchSize * config.inflight)
    : config.maxPendingRecords;
  let t0 = 0;
  /** The next wheel slot to visit, counted from the start of the run (slot k covers [k, k + 1) * slotMs). */
  let cursor = 0;
  let timer: NodeJS.Timeout | undefined;
  let rampTimer: NodeJS.Timeout | undefined;
  let opened = 0;
  let finished = false;
  let resolveDone!: (s: LoadSummary) => void;
  const done = new Promise<LoadSummary>((resolve) => {
    resolveDone = resolve;
  });

  const passwordFor = (id: string) => (typeof config.password === "function" ? config.password(id) : config.password);
  const runMs = () => Date.now() - t0;

  function connect(sim: Sim): void {
    sim.reconnectTimer = undefined;
    if (finished) return;
    const password = passwordFor(sim.truckId);
    const localAddress = config.sourceAddresses?.[sim.index % config.sourceAddresses.length];
    // A truck's schedule starts at its first connect: on its phase (spread), or at once (no spread); a reconnect
    // does not restart it. It joins the wheel's slot of that time within the period.
    if (sim.firstDueMs < 0) {
      const now = runMs();
      sim.firstDueMs = config.spread
        ? sim.phaseMs + Math.ceil(Math.max(0, now - sim.phaseMs) / periodMs) * periodMs
        : now;
      wheel[Math.min(slots - 1, Math.floor((sim.firstDueMs % periodMs) / slotMs))]!.push(sim);
    }
    const connection: LeanConnection = new LeanConnection(
      {
        url,
        ...(localAddress ? { localAddress } : {}),
        protocolVersion: config.protocolVersion,
        clientId: sim.truckId,
        username: sim.truckId,
        ...(password === undefined ? {} : { password }),
        clean: config.clean,
        keepaliveS: config.keepaliveS,
        ...(config.clean || config.protocolVersion !== 5 ? {} : { sessionExpiryS: 3600 }),
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      },
      {
        onConnect() {
          sim.attempts = 0;
          connectedCount++;
          const now = runMs();
          generate(sim, now);
          publish(sim, now);
        },
        onAck(packetId, refused) {
          const sent = sim.inflight.get(packetId);
          if (!sent) return;
          sim.inflight.delete(packetId);
          if (refused) {
            c.refused++;
            sim.unsent.unshift({ payload: sent.payload, records: sent.records });
            retryLater(sim, runMs() + 1000);
            return;
          }
          latency.add(performance.now() - sent.sentAt);
          c.publishesAcked++;
          c.recordsAcked += sent.records;
          const before = sim.acked;
          sim.acked += sent.records;
          if (stormAt !== undefined && before < sim.stormGoal && sim.acked >= sim.stormGoal) stormLeft--;
          // The window has room again: what is due goes out now, not at the truck's next slot.
          const now = runMs();
          generate(sim, now);
          publish(sim, now);
        },
        onClose(reason, wasConnected) {
          if (wasConnected) connectedCount--;
          if (sim.connection === connection) lost(sim, reason);
        },
      },
    );
    sim.connection = connection;
  }

  /** What was in flight goes back to the front of the queue, in order; then a reconnect after a jittered backoff. */
  function lost(sim: Sim, reason: string): void {
    sim.connection = null;
    requeueInflight(sim);
    if (reason === "dropped" || finished) return;
    c.connectErrors++;
    log.debug({ truckId: sim.truckId, reason }, "mqtt connection lost");
    const delay = backoffDelay(sim.attempts++, RECONNECT_MIN_MS, RECONNECT_MAX_MS);
    sim.reconnectTimer = setTimeout(() => connect(sim), delay);
    sim.reconnectTimer.unref();
  }

  function requeueInflight(sim: Sim): void {
    if (sim.inflight.size === 0) return;
    // In the order they were sent (a Map keeps insertion order), ahead of anything not sent before.
    const unanswered = [...sim.inflight.values()].map(({ payload, records }) => ({ payload, records }));
    sim.inflight.clear();
    sim.unsent.unshift(...unanswered);
  }

  function retryLater(sim: Sim, at: number): void {
    sim.retryAt = at;
    if (sim.retryTimer) return;
    sim.retryTimer = setTimeout(
      () => {
        sim.retryTimer = undefined;
        const now = runMs();
        generate(sim, now);
        publish(sim, now);
      },
      Math.max(0, at - runMs()),
    );
    sim.retryTimer.unref();
  }

  const target = (sim: Sim, now: number): number => {
    const ran = sim.firstDueMs < 0 ? -1 : now - sim.firstDueMs;
    if (ran < 0) return sim.backlog;
    const byTime = config.durationS !== undefined ? Math.min(ran, config.durationS * 1000) : ran;
    const due = Math.floor(byTime / periodMs) + 1 + sim.backlog;
    return config.recordsPerTruck === undefined ? due : Math.min(due, config.recordsPerTruck);
  };

  function generate(sim: Sim, now: number): void {
    // Records are made when they can be sent (the same records later: the route is simulated time), so a truck that
    // waits to reconnect holds none: 10,000 of them holding a full queue each filled the generator's heap.
    if (!sim.connection?.connected) return;
    const want = target(sim, now);
    while (sim.generated < want) {
      if (sim.pending.length >= pendingCap) {
        if (pendingCap === config.maxPendingRecords) c.stalls++;
        return;
      }
      const state = sim.model.step(periodMs);
      sim.pending.push(telemetryRecord(state, { truckId: sim.truckId, stream: sim.stream, seq: sim.seq++ }));
      sim.generated++;
    }
  }

  function allGenerated(sim: Sim): boolean {
    return sim.generated >= target(sim, Number.POSITIVE_INFINITY);
  }

  function publish(sim: Sim, now: number): void {
    const connection = sim.connection;
    if (!connection?.connected || now < sim.retryAt) return;
    while (sim.inflight.size < config.inflight && sim.unsent.length > 0) {
      const again = sim.unsent.shift()!;
      sim.inflight.set(connection.publish(sim.topic, again.payload), { ...again, sentAt: performance.now() });
      c.publishesSent++;
    }
    while (sim.inflight.size < config.inflight && sim.pending.length > 0) {
      // A partial batch only goes out once nothing more will be generated for it soon (end of the run).
      if (sim.pending.length < config.batchSize && !allGenerated(sim)) return;
      // A backlog (after a storm) drains in bigger batches, as agents drain their outboxes.
      const size = config.storm && sim.pending.length > config.batchSize ? config.storm.batchSize : config.batchSize;
      const batch = sim.pending.splice(0, size);
      const payload = encodeTelemetry(batch, { format: config.format });
      const sentAt = performance.now();
      sim.inflight.set(connection.publish(sim.topic, payload), { payload, records: batch.length, sentAt });
      c.publishesSent++;
    }
  }

  function isComplete(): boolean {
    return sims.every(
      (s) => allGenerated(s) && s.pending.length === 0 && s.unsent.length === 0 && s.inflight.size === 0,
    );
  }

  function stats(): LoadStats {
    return {
      elapsedMs: t0 === 0 ? 0 : Date.now() - t0,
      trucks: sims.length,
      connected: connectedCount,
      connectErrors: c.connectErrors,
      recordsGenerated: sims.reduce((n, s) => n + s.generated, 0),
      publishesSent: c.publishesSent,
      publishesAcked: c.publishesAcked,
      recordsAcked: c.recordsAcked,
      publishesRefused: c.refused,
      stalls: c.stalls,
      latencyMsP50: latency.percentile(50),
      latencyMsP99: latency.percentile(99),
      stormDrainMs,
      stormConnectedMs,
    };
  }

  function summary(): LoadSummary {
    const s = stats();
    const secs = Math.max(s.elapsedMs, 1) / 1000;
    return {
      ...s,
      publishesAckedPerSec: Math.round(s.publishesAcked / secs),
      recordsAckedPerSec: Math.round(s.recordsAcked / secs),
      streams: Object.fromEntries(sims.map((x) => [x.truckId, { stream: x.stream, records: x.acked }])),
      complete: isComplete(),
    };
  }

  /**
   * Every truck drops its connection at once (what it had in flight goes back to the front of its queue, in order)
   * and reconnects at once, with `backlogS` seconds of records waiting. Only a reconnect that fails backs off.
   */
  function storm(now: number, options: NonNullable<LoadConfig["storm"]>): void {
    stormAt = now;
    const backlog = Math.round((options.backlogS * 1000) / periodMs);
    for (const sim of sims) {
      sim.connection?.drop();
      clearTimeout(sim.reconnectTimer);
      sim.attempts = 0;
      sim.backlog += backlog;
      sim.stormGoal = target(sim, now);
      if (sim.acked < sim.stormGoal) stormLeft++;
    }
    for (const sim of sims) connect(sim);
    log.info({ trucks: sims.length, backlogPerTruck: backlog }, "reconnect storm");
  }

  /** Visits the wheel's slots whose time has come since the last tick (each at most once per tick). */
  function tick(): void {
    const now = runMs();
    if (config.storm && stormAt === undefined && now >= config.storm.atS * 1000) storm(now, config.storm);
    if (stormAt !== undefined && stormConnectedMs === null && connectedCount === sims.length) {
      stormConnectedMs = now - stormAt;
      log.info({ stormConnectedMs }, "reconnect storm: every truck logged in again");
    }
    if (stormAt !== undefined && stormDrainMs === null && stormLeft === 0) {
      stormDrainMs = now - stormAt;
      log.info({ stormDrainMs }, "reconnect storm drained");
    }
    const upTo = Math.floor(now / slotMs);
    if (upTo - cursor > slots) cursor = upTo - slots;
    const keepaliveMs = (config.keepaliveS * 1000) / 2;
    const perfNow = performance.now();
    for (; cursor < upTo; cursor++) {
      for (const sim of wheel[cursor % slots]!) {
        if (sim.firstDueMs < 0) continue;
        generate(sim, now);
        publish(sim, now);
        // Keepalive (MQTT-3.1.2-23): a truck that sent nothing for half the keepalive pings.
        const connection = sim.connection;
        if (keepaliveMs > 0 && connection?.connected && perfNow - connection.lastSentAt > keepaliveMs)
          connection.ping();
      }
    }
    if (isComplete()) void finish();
  }

  async function closeAll(): Promise<void> {
    if (timer) clearInterval(timer);
    if (rampTimer) clearInterval(rampTimer);
    timer = undefined;
    rampTimer = undefined;
    for (const sim of sims) {
      clearTimeout(sim.reconnectTimer);
      clearTimeout(sim.retryTimer);
    }
    await Promise.all(
      sims.map((s) => {
        const connection = s.connection;
        if (!connection) return undefined;
        const force = setTimeout(() => connection.drop(), DRAIN_DEADLINE_MS);
        force.unref();
        return connection.end().finally(() => clearTimeout(force));
      }),
    );
  }

  async function finish(): Promise<LoadSummary> {
    if (finished) return done;
    finished = true;
    const result = summary();
    await closeAll();
    resolveDone(result);
    return result;
  }

  return {
    done,
    stats,
    async start() {
      if (t0 !== 0) throw new FleetError("FLEET_CLOSED", "load run already started");
      t0 = Date.now();
      const perTick = Math.max(1, Math.round((config.rampPerSec * 100) / 1000));
      const ramp = () => {
        for (let i = 0; i < perTick && opened < sims.length; i++, opened++) connect(sims[opened]!);
        if (opened >= sims.length && rampTimer) clearInterval(rampTimer);
      };
      ramp();
      rampTimer = setInterval(ramp, 100);
      rampTimer.unref();
      timer = setInterval(tick, config.tickMs);
      timer.unref();
      log.info({ trucks: sims.length, url: config.url }, "load run started");
    },
    stop: finish,
  };
}
