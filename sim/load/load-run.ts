/**
 * Load mode: one light MQTT 5 connection per simulated truck, publishing protocol payloads (protocol/codec.ts)
 * directly to `fleetsync/v1/{truckId}/telemetry` with QoS 1, at a set rate and batch size, connections opened at a
 * set ramp. No outbox and no serial parsing: this measures the broker/bridge side. Each truck has one stream and a
 * seq that rises by one per record, so `fleetsync verify` can check what reached Kafka.
 * A refused publish (PUBACK reason code >= 0x80) goes back to the head of the queue and is sent again.
 *
 * The fleet's load shape (issue 21): N trucks each publishing one record every period, evenly spread over the
 * period (`spread`), connecting from several loopback source addresses (`sourceAddresses`) so one machine can hold
 * tens of thousands of connections, and a reconnect storm (`storm`): every truck drops at once and comes back at
 * once with a backlog to drain, as after a cellular outage over a region or a load balancer restart.
 */
import { randomBytes } from "node:crypto";
import { connect as tcpConnect } from "node:net";
import mqtt, { type IClientOptions, MqttClient } from "mqtt";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import { encodeTelemetry, type TelemetryRecord, topicFor } from "../../protocol/index.ts";
import { createTruckModel, type TruckModel } from "../model/truck.ts";
import { telemetryRecord } from "../record.ts";
import { type LoadConfig, type LoadOptions, parseLoadOptions } from "./config.ts";
import { createLatencyRing } from "./latency.ts";

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
  /** Offset of this truck's publishes within the period (even spread). */
  phaseMs: number;
  /** Records added by a reconnect storm (the backlog the truck comes back with). */
  backlog: number;
  /** Records that must be acknowledged for the storm's backlog to count as drained. */
  stormGoal: number;
  /** Publishes sent on the current connection and not yet answered; a storm puts them back in front. */
  inflightBatches: Set<TelemetryRecord[]>;
  /** Bumped when a storm drops the connection: answers for an older connection are ignored. */
  epoch: number;
  stream: string;
  model: TruckModel;
  client: MqttClient | null;
  connected: boolean;
  seq: number;
  generated: number;
  pending: TelemetryRecord[];
  inflight: number;
  acked: number;
  retryAt: number;
  /** Run time (ms) when this truck's connection was opened: its records are due from then on. */
  startedAt: number;
}

const DRAIN_DEADLINE_MS = 5000;

export function createLoadRun(options: LoadOptions, deps: { logger?: Logger } = {}): LoadRun {
  const config: LoadConfig = parseLoadOptions(options);
  const log = deps.logger ?? silentLogger;
  const latency = createLatencyRing(config.latencySamples);
  const periodMs = 1000 / config.ratePerTruck;
  const c = { connectErrors: 0, publishesSent: 0, publishesAcked: 0, recordsAcked: 0, refused: 0, stalls: 0 };
  const sims: Sim[] = config.truckIds.map((truckId, index) => ({
    truckId,
    phaseMs: config.spread ? (index / config.truckIds.length) * periodMs : 0,
    backlog: 0,
    stormGoal: 0,
    inflightBatches: new Set(),
    epoch: 0,
    stream: randomBytes(8).toString("hex"),
    model: createTruckModel({ seed: `${config.seed}/${truckId}`, startTimeMs: Math.floor(Date.now() / 1000) * 1000 }),
    client: null,
    connected: false,
    seq: 0,
    generated: 0,
    pending: [],
    inflight: 0,
    acked: 0,
    retryAt: 0,
    startedAt: -1,
  }));
  let stormAt: number | undefined;
  let stormDrainMs: number | null = null;
  /** Pending records per truck: a storm's backlog is generated as it drains, not all at once (memory). */
  const pendingCap = config.storm
    ? Math.min(config.maxPendingRecords, config.storm.batchSize * config.inflight)
    : config.maxPendingRecords;
  let t0 = 0;
  let timer: NodeJS.Timeout | undefined;
  let rampTimer: NodeJS.Timeout | undefined;
  let opened = 0;
  let finished = false;
  let resolveDone!: (s: LoadSummary) => void;
  const done = new Promise<LoadSummary>((resolve) => {
    resolveDone = resolve;
  });

  const passwordFor = (id: string) => (typeof config.password === "function" ? config.password(id) : config.password);

  /** Truck i's connection from source address i mod n: a plain TCP stream bound to it (mqtt:// only). */
  function streamFrom(index: number, url: URL) {
    const localAddress = config.sourceAddresses![index % config.sourceAddresses!.length]!;
    const port = Number(url.port || 1883);
    return () => tcpConnect({ host: url.hostname, port, localAddress });
  }

  function connect(sim: Sim, index: number): void {
    const password = passwordFor(sim.truckId);
    const options: IClientOptions = {
      protocolVersion: config.protocolVersion,
      clientId: sim.truckId,
      username: sim.truckId,
      ...(password === undefined ? {} : { password }),
      clean: config.clean,
      keepalive: config.keepaliveS,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(config.clean || config.protocolVersion !== 5 ? {} : { properties: { sessionExpiryInterval: 3600 } }),
    };
    let client: MqttClient;
    if (config.sourceAddresses) {
      const url = new URL(config.url);
      if (url.protocol !== "mqtt:")
        throw new FleetError("FLEET_CONFIG_INVALID", "sim load option sourceAddresses: only with an mqtt:// url");
      client = new MqttClient(streamFrom(index, url), options);
    } else {
      client = mqtt.connect(config.url, options);
    }
    sim.client = client;
    // A truck's schedule starts at its first connect; a storm's reconnect does not restart it.
    if (sim.startedAt < 0) sim.startedAt = Date.now() - t0;
    // A storm replaces the client: the old one's late events must not touch the truck's state.
    client.on("connect", () => {
      if (sim.client === client) sim.connected = true;
    });
    client.on("close", () => {
      if (sim.client === client) sim.connected = false;
    });
    client.on("error", (error) => {
      c.connectErrors++;
      log.debug({ truckId: sim.truckId, err: error.message }, "mqtt error");
    });
  }

  const target = (sim: Sim, now: number): number => {
    const ran = now - sim.startedAt - sim.phaseMs;
    if (ran < 0) return sim.backlog;
    const byTime = config.durationS !== undefined ? Math.min(ran, config.durationS * 1000) : ran;
    const due = Math.floor(byTime / periodMs) + 1 + sim.backlog;
    return config.recordsPerTruck === undefined ? due : Math.min(due, config.recordsPerTruck);
  };

  function generate(sim: Sim, now: number): void {
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
    const client = sim.client;
    if (!client || !sim.connected || now < sim.retryAt) return;
    while (sim.inflight < config.inflight && sim.pending.length > 0) {
      // A partial batch only goes out once nothing more will be generated for it soon (end of the run).
      if (sim.pending.length < config.batchSize && !allGenerated(sim)) return;
      // A backlog (after a storm) drains in bigger batches, as agents drain their outboxes.
      const size = config.storm && sim.pending.length > config.batchSize ? config.storm.batchSize : config.batchSize;
      const batch = sim.pending.splice(0, size);
      const payload = encodeTelemetry(batch, { format: config.format });
      const sentAt = performance.now();
      const epoch = sim.epoch;
      sim.inflight++;
      sim.inflightBatches.add(batch);
      c.publishesSent++;
      client.publish(topicFor(sim.truckId, "telemetry"), payload, { qos: 1 }, (error) => {
        if (epoch !== sim.epoch) return;
        sim.inflight--;
        sim.inflightBatches.delete(batch);
        if (error) {
          c.refused++;
          sim.pending.unshift(...batch);
          sim.retryAt = Date.now() - t0 + 1000;
          return;
        }
        latency.add(performance.now() - sentAt);
        c.publishesAcked++;
        c.recordsAcked += batch.length;
        sim.acked += batch.length;
      });
    }
  }

  function isComplete(): boolean {
    return sims.every((s) => allGenerated(s) && s.pending.length === 0 && s.inflight === 0);
  }

  function stats(): LoadStats {
    return {
      elapsedMs: t0 === 0 ? 0 : Date.now() - t0,
      trucks: sims.length,
      connected: sims.filter((s) => s.connected).length,
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
   * and reconnects at once, with `backlogS` seconds of records waiting.
   */
  function storm(now: number, options: NonNullable<LoadConfig["storm"]>): void {
    stormAt = now;
    const backlog = Math.round((options.backlogS * 1000) / periodMs);
    sims.forEach((sim, index) => {
      sim.epoch++;
      const unanswered = [...sim.inflightBatches].flat();
      sim.inflightBatches.clear();
      sim.inflight = 0;
      sim.pending.unshift(...unanswered);
      sim.client?.end(true);
      sim.connected = false;
      sim.backlog += backlog;
      sim.stormGoal = target(sim, now);
      connect(sim, index);
    });
    log.info({ trucks: sims.length, backlogPerTruck: backlog }, "reconnect storm");
  }

  async function closeAll(): Promise<void> {
    if (timer) clearInterval(timer);
    if (rampTimer) clearInterval(rampTimer);
    timer = undefined;
    rampTimer = undefined;
    await Promise.all(
      sims.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.client) return resolve();
            const force = setTimeout(() => s.client?.end(true, {}, () => resolve()), DRAIN_DEADLINE_MS);
            force.unref();
            s.client.end(false, {}, () => {
              clearTimeout(force);
              resolve();
            });
          }),
      ),
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
        for (let i = 0; i < perTick && opened < sims.length; i++, opened++) connect(sims[opened]!, opened);
        if (opened >= sims.length && rampTimer) clearInterval(rampTimer);
      };
      ramp();
      rampTimer = setInterval(ramp, 100);
      rampTimer.unref();
      timer = setInterval(() => {
        const now = Date.now() - t0;
        if (config.storm && stormAt === undefined && now >= config.storm.atS * 1000) storm(now, config.storm);
        if (stormAt !== undefined && stormDrainMs === null && sims.every((s) => s.acked >= s.stormGoal)) {
          stormDrainMs = now - stormAt;
          log.info({ stormDrainMs }, "reconnect storm drained");
        }
        for (const sim of sims) {
          if (!sim.client) continue;
          generate(sim, now);
          publish(sim, now);
        }
        if (isComplete()) void finish();
      }, config.tickMs);
      timer.unref();
      log.info({ trucks: sims.length, url: config.url }, "load run started");
    },
    stop: finish,
  };
}
