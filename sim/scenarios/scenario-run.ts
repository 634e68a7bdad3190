/**
 * Publishes scripted trucks through a broker (the bridge) on a faster-than-real-time clock: simulated time runs
 * `speed` times faster than the wall clock, and each truck publishes its records (binary protocol, QoS 1, one
 * publish per record) when the wall clock reaches their simulated time / speed. Records carry the simulated GNSS
 * time, so the detectors see a 25-minute stop in 25 s of wall time at 60x.
 *
 * This bypasses the agents (quick, any number of trucks, and the silent and siphon scenarios an agent cannot
 * produce); scripted-devices.ts runs the scenarios through real agents with `clock.timeScale` instead. The bridge,
 * Kafka and the pipelines are the real ones.
 *
 * A silent truck's connection is cut without an MQTT DISCONNECT (the socket is reset) when its silence begins,
 * as a jammer or a cut cable would; every other truck disconnects cleanly at its scenario's end.
 */
import mqtt, { type MqttClient } from "mqtt";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import { encodeEvents, encodeTelemetry, topicFor } from "../../protocol/index.ts";
import type { ScriptedTruck } from "./fleet.ts";

export interface ScenarioRunOptions {
  url: string;
  trucks: readonly ScriptedTruck[];
  /** Simulated seconds per wall second (60: a simulated hour per wall minute). */
  speed: number;
  password?: (truckId: string) => string | undefined;
  /** Called for every acknowledged record (for progress output). */
  onRecord?(truckId: string, kind: "telemetry" | "events"): void;
  /**
   * Ends the run early (the demo's Ctrl-C): each truck stops before its next record and disconnects cleanly, and the
   * run resolves then, not when the scenario's simulated time would have ended (30 s of the demo's idle truck).
   */
  signal?: AbortSignal;
}

export interface ScenarioRunSummary {
  records: number;
  trucks: number;
  wallMs: number;
  /** The signal ended the run before every scenario did. */
  stopped: boolean;
}

const publish = (client: MqttClient, topic: string, payload: Buffer) =>
  new Promise<void>((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );

async function connect(url: string, truckId: string, password: string | undefined): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: truckId,
    username: truckId,
    ...(password === undefined ? {} : { password }),
    keepalive: 30,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", (error) => {
      client.end(true);
      reject(new FleetError("FLEET_MQTT", `${truckId} cannot connect to ${url}: ${error.message}`, { cause: error }));
    });
  });
  return client;
}

/** Runs every truck's scenario at once; resolves when all are done (published and acknowledged, or cut). */
export async function runScenarios(
  options: ScenarioRunOptions,
  deps: { logger?: Logger } = {},
): Promise<ScenarioRunSummary> {
  if (!(options.speed > 0)) throw new FleetError("FLEET_USAGE", `speed must be positive, got ${options.speed}`);
  const logger = deps.logger ?? silentLogger;
  const began = Date.now();
  let records = 0;
  const { signal } = options;
  const wait = (simMs: number) => {
    const dueMs = began + simMs / options.speed - Date.now();
    if (dueMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, dueMs);
      signal?.addEventListener("abort", done, { once: true });
    });
  };
  await Promise.all(
    options.trucks.map(async (truck) => {
      const client = await connect(options.url, truck.truckId, options.password?.(truck.truckId));
      try {
        for (const { atMs, record } of truck.plan.records) {
          await wait(atMs);
          if (signal?.aborted) break;
          const payload = record.kind === "telemetry" ? encodeTelemetry([record.value]) : encodeEvents([record.value]);
          await publish(client, topicFor(truck.truckId, record.kind), payload);
          records += 1;
          options.onRecord?.(truck.truckId, record.kind);
        }
        if (truck.plan.silentFromMs !== undefined && !signal?.aborted) {
          await wait(truck.plan.silentFromMs);
          logger.info({ truckId: truck.truckId }, "connection cut (silent truck)");
          // A reset, not a DISCONNECT: the broker sees the connection fail and the bridge records offline with
          // the error, not a goodbye.
          const stream = client.stream as { resetAndDestroy?: () => void; destroy(): void };
          if (stream.resetAndDestroy) stream.resetAndDestroy();
          else stream.destroy();
          client.end(true);
          return;
        }
        await wait(truck.plan.durationMs);
        await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      } catch (error) {
        client.end(true);
        throw error;
      }
    }),
  );
  return { records, trucks: options.trucks.length, wallMs: Date.now() - began, stopped: signal?.aborted ?? false };
}
