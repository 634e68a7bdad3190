/**
 * The gateway: serial line → source (with its decoder) → state → sampler → outbox → uplink. This file only wires the
 * components, each through its folder's index.ts, so a record can be followed by its imports: sources/gps (NMEA →
 * GpsFix) and sources/can (CAN lines → CanMessage) → state (VehicleState) → sampler (TelemetryBody, protocol/) →
 * outbox (seq, disk) → uplink (MQTT publish); docs/architecture.md names every file on the way. Each component keeps
 * its own lifecycle. Stop order is the pipeline's: stop taking records, stop the sources, let the uplink finish what
 * is in flight, then commit the outbox and close it, so a SIGTERM loses nothing.
 */
import { isDeepStrictEqual } from "node:util";
import { readBootId } from "../common/boot-id.ts";
import { FleetError, isFleetError } from "../common/errors.ts";
import { type Logger, silentLogger } from "../common/log.ts";
import { type Channel, EventRecordSchema, type StatusRecord, TelemetryRecordSchema } from "../protocol/index.ts";
import type { AgentConfig } from "./config.ts";
import { type AgentMetrics, createAgentMetrics, type SerialPortView } from "./metrics.ts";
import { type ChannelBody, createOutbox, type Outbox } from "./outbox/index.ts";
import { createSampler, type Sampler } from "./sampler/index.ts";
import {
  type CanSource,
  type CanSourceConfig,
  type CanSourceDeps,
  createCanSource,
  createGpsSource,
  type GpsSource,
  type GpsSourceConfig,
  type GpsSourceDeps,
  type PortSource,
} from "./sources/index.ts";
import { type Clock, createVehicleState, scaledClock, systemClock, type VehicleState } from "./state/index.ts";
import { createUplink, type Uplink } from "./uplink/index.ts";

/** How the agent builds its sources: agent/sources' serial sources unless a caller passes its own. */
export interface SourceFactories {
  createGpsSource(config: GpsSourceConfig, deps: GpsSourceDeps & { logger?: Logger }): GpsSource;
  createCanSource(config: CanSourceConfig, deps: CanSourceDeps & { logger?: Logger }): CanSource;
}

const SERIAL_SOURCES: SourceFactories = { createGpsSource, createCanSource };

export interface AgentDeps {
  version: string;
  logger?: Logger;
  clock?: Clock;
  bootId?: string;
  /** Replaces a source factory (a test that wants a handle on the source, or a double of its port). */
  sources?: Partial<SourceFactories>;
  /** Remote configuration (agent/remote-config): payloads of the truck's config topic, and what it reports. */
  remote?: {
    onConfig(payload: Buffer): void;
    status(): Pick<StatusRecord, "appliedConfigVersion" | "configRejected">;
  };
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly outbox: Outbox;
  readonly uplink: Uplink;
  readonly state: VehicleState;
  readonly sampler: Sampler;
  readonly metrics: AgentMetrics;
  /** The metrics port actually listened on (when enabled). */
  metricsPort(): number | undefined;
  /**
   * Takes `next` live when it differs from the running configuration only in the sampler (the next evaluation
   * uses it). False: anything else differs, and the pipeline must be restarted with it (agent/remote-config/host.ts).
   */
  reconfigure(next: AgentConfig): boolean;
}

export { readBootId };

// Validation before the outbox: a record the contract refuses would otherwise be stored and block its channel.
const ENVELOPE = { truckId: "T", stream: "0000000000000000", seq: 0 };

export function createAgent(config: AgentConfig, deps: AgentDeps): Agent {
  const log = deps.logger ?? silentLogger;
  const clock = scaledClock(deps.clock ?? systemClock, config.clock.timeScale);
  const bootId = deps.bootId ?? readBootId();
  let state: VehicleState;
  const outbox = createOutbox(config.outbox, {
    truckId: config.truckId,
    logger: log.child({ component: "outbox" }),
    bootId,
    now: () => state.now(),
  });
  const uplink = createUplink(config.broker, {
    truckId: config.truckId,
    outbox,
    logger: log.child({ component: "uplink" }),
    status: () => ({ agentVersion: deps.version.slice(0, 32), bootId, ...deps.remote?.status() }),
    ...(deps.remote ? { onConfig: deps.remote.onConfig } : {}),
  });
  const ports: SerialPortView[] = [];
  const metrics = createAgentMetrics(outbox, uplink, { ports: () => ports, gnssTime: () => state?.gnssTime() });

  function record<C extends Channel>(channel: C, body: ChannelBody[C]): void {
    const schema = channel === "telemetry" ? TelemetryRecordSchema : EventRecordSchema;
    const check = schema.safeParse({ ...ENVELOPE, ...body });
    if (!check.success) {
      metrics.recordsRefused.inc({ channel, reason: "invalid" });
      log.error(
        { channel, issues: check.error.issues.slice(0, 3), body },
        "record refused: does not match the contract",
      );
      return;
    }
    outbox.append(channel, body).catch((error: unknown) => {
      const reason = isFleetError(error, "FLEET_OUTBOX_BUSY") ? "busy" : "error";
      metrics.recordsRefused.inc({ channel, reason });
      log.error({ err: error, channel }, "record could not be written to the outbox");
    });
  }

  state = createVehicleState(config.state, { clock, onEvent: (event) => record("events", event) });
  const sampler = createSampler(config.sampler, { state, clock, onRecord: (r) => record("telemetry", r) });
  const sources: PortSource[] = [];
  const factories: SourceFactories = { ...SERIAL_SOURCES, ...deps.sources };
  if (config.gps) {
    const gps = factories.createGpsSource(config.gps, {
      logger: log.child({ component: "gps" }),
      onFix: (fix) => {
        state.applyFix(fix);
        sampler.evaluate();
      },
    });
    sources.push(gps);
    ports.push({ source: "gps", path: config.gps.path, port: gps });
  }
  if (config.can) {
    const can = factories.createCanSource(config.can, {
      logger: log.child({ component: "can" }),
      onMessage: (m) => state.applyMessage(m),
    });
    sources.push(can);
    // A SocketCAN interface has no device path: its name stands in for it in metrics and doctor.
    ports.push({ source: "can", path: config.can.path ?? config.can.interface!, port: can });
  }

  let running = config;
  let port: number | undefined;
  let phase: "new" | "running" | "stopped" = "new";
  let stopping: Promise<void> | undefined;

  async function start(): Promise<void> {
    if (phase !== "new") throw new FleetError("FLEET_CLOSED", "agent already started");
    phase = "running";
    await outbox.start();
    record("events", { ...state.now(), type: "start", agentVersion: deps.version.slice(0, 32), bootId });
    if (config.metrics.enabled) port = await metrics.listen(config.metrics.host, config.metrics.port);
    await uplink.start();
    for (const s of sources) await s.start();
    await sampler.start();
    log.info(
      { truckId: config.truckId, stream: outbox.stream, depth: outbox.depth(), metricsPort: port, bootId },
      "agent started",
    );
  }

  async function shutdown(): Promise<void> {
    const began = Date.now();
    await sampler.stop();
    await Promise.allSettled(sources.map((s) => s.stop()));
    await uplink.stop();
    await outbox.stop();
    await metrics.close();
    phase = "stopped";
    log.info({ ms: Date.now() - began, depth: outbox.depth() }, "agent stopped");
  }

  return {
    start,
    stop() {
      if (phase === "new") phase = "stopped";
      if (phase === "stopped" && !stopping) return Promise.resolve();
      stopping ??= shutdown();
      return stopping;
    },
    outbox,
    uplink,
    get state() {
      return state;
    },
    sampler,
    metrics,
    metricsPort: () => port,
    reconfigure(next) {
      if (!isDeepStrictEqual({ ...running, sampler: null }, { ...next, sampler: null })) return false;
      sampler.reconfigure(next.sampler);
      running = next;
      return true;
    },
  };
}
