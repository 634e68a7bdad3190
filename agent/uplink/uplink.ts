/**
 * The uplink drains the outbox over MQTT. Three jobs, one module each: connection.ts keeps one MQTT session at a time
 * (status topic, reconnect with backoff and jitter), drain.ts publishes each channel's records in seq order and
 * acknowledges them to the outbox at PUBACK, latest.ts sends the truck's current state on its own lane. This file
 * joins them: a new session sends the latest record first and then restarts the drain from the outbox head, a lost
 * one makes the drain forget what was in flight, a failed publish drops the session, and a commit in the outbox
 * wakes the drain (and the latest lane, when a backlog holds the newest record back). The MQTT client comes through
 * a port (mqtt-port.ts), so the logic runs in unit tests.
 */
import { readFileSync } from "node:fs";
import { FleetError } from "../../common/errors.ts";
import { LifecycleGuard } from "../../common/lifecycle.ts";
import { silentLogger } from "../../common/log.ts";
import type { UplinkConfig } from "./config.ts";
import { createConnection } from "./connection.ts";
import { createDrain } from "./drain.ts";
import { createLatestLane } from "./latest.ts";
import { connectMqtt } from "./mqtt-connect.ts";
import type { Uplink, UplinkDeps, UplinkStats } from "./types.ts";

export function createUplink(config: UplinkConfig, deps: UplinkDeps): Uplink {
  const log = deps.logger ?? silentLogger;
  const { outbox, truckId } = deps;
  const stats: UplinkStats = {
    connected: false,
    connectedAt: 0,
    connects: 0,
    disconnects: 0,
    batchesPublished: 0,
    recordsPublished: 0,
    recordsAcked: 0,
    publishErrors: 0,
    recordsUnencodable: 0,
    bytesPublished: 0,
    drainPacedWaits: 0,
    latestPublished: 0,
    latestAcked: 0,
    latestAckedAt: 0,
  };
  const connection = createConnection(config, {
    truckId,
    connect: deps.connect ?? connectMqtt,
    log,
    stats,
    status: deps.status,
    ...(deps.onConfig ? { onConfig: deps.onConfig } : {}),
    depth: () => outbox.depth(),
    ca: config.caFile ? readFileSync(config.caFile) : undefined,
    // The latest record goes first (its publish is written before any backlog batch), then the drain.
    onUp: () => {
      void latest.up().finally(() => drain.restart());
    },
    onDown: () => drain.forget(),
    ...(deps.random ? { random: deps.random } : {}),
  });
  // The drain and the latest lane read the same outbox and publish on the same session, with the same stats.
  const lane = { truckId, outbox, log, stats, session: () => connection.session() };
  const drain = createDrain(config, {
    ...lane,
    generation: () => connection.generation(),
    fail: () => connection.fail(),
    publishedTelemetry: (record) => latest.published(record),
  });
  const latest = createLatestLane(config, { ...lane, behind: () => drain.behind("telemetry") });
  let unsubscribe: (() => void) | undefined;
  const life = new LifecycleGuard("the uplink");
  /** Rejects when stop() begins: a whenConnected() still waiting then fails instead of waiting forever. */
  let refuseWaiters: (error: FleetError) => void = () => {};
  const stopped = new Promise<never>((_, reject) => (refuseWaiters = reject));
  stopped.catch(() => undefined);

  async function stop(): Promise<void> {
    refuseWaiters(new FleetError("FLEET_CLOSED", "the uplink stopped before it connected"));
    connection.beginStop();
    unsubscribe?.();
    latest.stop();
    drain.stop();
    if (!connection.opened()) return;
    // Let what is in flight get its PUBACK (bounded): those records then leave the outbox instead of going again.
    if (stats.connected) await drain.whenIdle(config.stopTimeoutMs);
    await connection.close();
    log.info({ depth: outbox.depth() }, "uplink stopped");
  }

  return {
    start: () =>
      life.start(async () => {
        unsubscribe = outbox.onCommit(() => {
          drain.pumpAll();
          latest.committed();
        });
        connection.open();
      }),
    stop: () => life.stop(stop),
    stats: () => ({ ...stats }),
    async whenConnected() {
      life.ensureOpen("whenConnected");
      return Promise.race([connection.whenConnected(), stopped]);
    },
    refreshStatus: () => connection.publishStatus(),
  };
}
