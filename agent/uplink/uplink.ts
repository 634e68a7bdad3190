/**
 * The uplink drains the outbox over MQTT, per channel, in seq order: it reads committed records from the head of
 * the queue, publishes them in batches at QoS 1, and acknowledges them to the outbox only when the PUBACK came
 * back (MQTT.js resolves a QoS 1 publish at PUBACK), in order (a later batch's PUBACK waits for the earlier ones).
 *
 * Each connection attempt gets a fresh MQTT.js client (reconnectPeriod 0): MQTT.js's own offline queue is
 * unbounded and its own retry would resend records behind our back. On a lost connection every in-flight batch is
 * forgotten and the next connection starts again from the outbox head, so the outbox stays the only queue.
 */
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import {
  type Channel,
  encodeEvents,
  encodeTelemetry,
  MAX_PAYLOAD_BYTES,
  type StatusRecord,
  topicFor,
} from "../../protocol/index.ts";
import type { ChannelRecord, Outbox } from "../outbox/index.ts";
import { backoffDelay } from "./backoff.ts";
import type { UplinkConfig } from "./config.ts";
import { connectMqtt } from "./mqtt-connect.ts";

export interface UplinkDeps {
  truckId: string;
  outbox: Outbox;
  logger?: Logger;
  /** Agent details for the status topic. */
  status: () => { agentVersion: string; bootId: string };
}

export interface UplinkStats {
  connected: boolean;
  connects: number;
  disconnects: number;
  batchesPublished: number;
  recordsPublished: number;
  recordsAcked: number;
  publishErrors: number;
  /** Records sent as raw JSON because the codec refused them (the bridge dead-letters them). */
  recordsUnencodable: number;
  bytesPublished: number;
}

export interface Uplink {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): UplinkStats;
  /** Resolves when connected (for tools and tests). */
  whenConnected(): Promise<void>;
}

interface Batch {
  generation: number;
  lastSeq: number;
  count: number;
  done: boolean;
}

interface ChannelFlow {
  cursor: number;
  ackedUpTo: number;
  inflight: Batch[];
  pumping: boolean;
  again: boolean;
}

const CHANNELS: Channel[] = ["telemetry", "events"];

export function createUplink(config: UplinkConfig, deps: UplinkDeps): Uplink {
  const log = deps.logger ?? silentLogger;
  const { outbox, truckId } = deps;
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const flows = {} as Record<Channel, ChannelFlow>;
  for (const c of CHANNELS) flows[c] = { cursor: 0, ackedUpTo: -1, inflight: [], pumping: false, again: false };
  const stats: UplinkStats = {
    connected: false,
    connects: 0,
    disconnects: 0,
    batchesPublished: 0,
    recordsPublished: 0,
    recordsAcked: 0,
    publishErrors: 0,
    recordsUnencodable: 0,
    bytesPublished: 0,
  };
  let client: MqttClient | undefined;
  let generation = 0;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  let unsubscribe: (() => void) | undefined;
  let connectedWaiters: Array<() => void> = [];
  let drainedWaiters: Array<() => void> = [];

  function statusPayload(state: "online" | "offline"): Buffer {
    const s: StatusRecord = {
      truckId,
      state,
      ts: new Date().toISOString(),
      ...deps.status(),
      ...(state === "online" ? { outboxDepth: outbox.depth() } : {}),
    };
    return Buffer.from(JSON.stringify(s));
  }

  function connect(): void {
    const gen = ++generation;
    const options: IClientOptions = {
      protocolVersion: config.protocolVersion,
      clientId: truckId,
      username: truckId,
      ...(config.password ? { password: config.password } : {}),
      clean: false,
      keepalive: config.keepaliveS,
      reconnectPeriod: 0,
      // MQTT.js' default (writeCache) makes mqtt-packet pre-build a Buffer for each of the 65,536 packet ids: about
      // 6 MB of live heap on a Pi, for a saving of one 2-byte allocation per publish at a few publishes a second.
      writeCache: false,
      connectTimeout: config.connectTimeoutMs,
      ...(ca ? { ca, rejectUnauthorized: true } : {}),
      ...(config.protocolVersion === 5 ? { properties: { sessionExpiryInterval: config.sessionExpiryS } } : {}),
      will: { topic: topicFor(truckId, "status"), payload: statusPayload("offline"), qos: 1, retain: true },
    };
    const c = connectMqtt(config.url, options);
    client = c;
    c.on("connect", () => {
      if (gen !== generation) return;
      attempt = 0;
      stats.connected = true;
      stats.connects++;
      log.info({ url: config.url, depth: outbox.depth() }, "uplink connected");
      c.publish(topicFor(truckId, "status"), statusPayload("online"), { qos: 1, retain: true }, (err) => {
        if (err && gen === generation) log.warn({ err }, "uplink: status online not acknowledged");
      });
      for (const ch of CHANNELS) {
        const f = flows[ch];
        f.inflight = [];
        f.cursor = Math.max(outbox.firstSeq(ch), f.ackedUpTo + 1);
        void pump(ch);
      }
      for (const w of connectedWaiters) w();
      connectedWaiters = [];
    });
    c.on("error", (err) => {
      if (gen === generation)
        log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, "uplink error");
    });
    c.on("close", () => {
      if (gen !== generation) return;
      lost(c);
    });
  }

  function lost(c: MqttClient): void {
    generation++; // every in-flight batch of the old connection is now stale
    if (stats.connected) {
      stats.disconnects++;
      log.warn({ depth: outbox.depth() }, "uplink disconnected");
    }
    stats.connected = false;
    for (const ch of CHANNELS) flows[ch].inflight = [];
    notifyDrained();
    c.removeAllListeners("close");
    c.on("error", () => {});
    c.end(true);
    if (stopping) return;
    const delay = backoffDelay(attempt++, config.reconnectMinMs, config.reconnectMaxMs);
    log.info({ delayMs: delay, attempt }, "uplink: reconnecting");
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!stopping) connect();
    }, delay);
    reconnectTimer.unref();
  }

  function encode(channel: Channel, records: ChannelRecord[Channel][]): Buffer {
    const format = { format: config.format };
    try {
      return channel === "telemetry"
        ? encodeTelemetry(records as ChannelRecord["telemetry"][], format)
        : encodeEvents(records as ChannelRecord["events"][], format);
    } catch (error) {
      // A record the codec refuses must not block the queue forever: send the batch as raw JSON, which the bridge
      // dead-letters with its reason and acknowledges (design promise 6). Counted and logged, never silent.
      stats.recordsUnencodable += records.length;
      log.error({ err: error, channel, firstSeq: records[0]?.seq }, "uplink: codec refused records; sending raw JSON");
      return Buffer.from(JSON.stringify(records.map(({ truckId: _, ...rest }) => rest)));
    }
  }

  async function pump(channel: Channel): Promise<void> {
    const f = flows[channel];
    if (f.pumping) {
      f.again = true;
      return;
    }
    f.pumping = true;
    try {
      do {
        f.again = false;
        while (stats.connected && !stopping && f.inflight.length < config.inflightBatches) {
          const gen = generation;
          const c = client!;
          let records = await outbox.read(channel, f.cursor, config.maxBatchRecords);
          if (gen !== generation || records.length === 0) break;
          let payload = encode(channel, records);
          while (payload.length > MAX_PAYLOAD_BYTES && records.length > 1) {
            records = records.slice(0, Math.ceil(records.length / 2));
            payload = encode(channel, records);
          }
          const batch: Batch = { generation: gen, lastSeq: records.at(-1)!.seq, count: records.length, done: false };
          f.inflight.push(batch);
          f.cursor = batch.lastSeq + 1;
          stats.batchesPublished++;
          stats.recordsPublished += records.length;
          stats.bytesPublished += payload.length;
          c.publish(topicFor(truckId, channel), payload, { qos: 1 }, (err) => acked(channel, batch, err));
        }
      } while (f.again);
    } catch (error) {
      log.error({ err: error, channel }, "uplink: reading the outbox failed");
    } finally {
      f.pumping = false;
    }
  }

  function acked(channel: Channel, batch: Batch, err: Error | undefined): void {
    if (batch.generation !== generation) return;
    const f = flows[channel];
    if (err) {
      // A refused publish (MQTT 5 PUBACK reason >= 0x80) or a broken client: start over from the outbox head on a
      // fresh connection, after the backoff.
      stats.publishErrors++;
      log.warn({ err: { message: err.message }, channel, lastSeq: batch.lastSeq }, "uplink: publish failed");
      if (client) lost(client);
      return;
    }
    batch.done = true;
    let upTo = -1;
    while (f.inflight[0]?.done) {
      const head = f.inflight.shift()!;
      upTo = head.lastSeq;
      stats.recordsAcked += head.count;
    }
    if (upTo >= 0) {
      f.ackedUpTo = upTo;
      void outbox.ack(channel, upTo);
    }
    if (f.inflight.length === 0) notifyDrained();
    void pump(channel);
  }

  function notifyDrained(): void {
    if (CHANNELS.every((c) => flows[c].inflight.length === 0)) {
      for (const w of drainedWaiters) w();
      drainedWaiters = [];
    }
  }

  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    unsubscribe?.();
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    const c = client;
    if (!c) return;
    if (stats.connected && CHANNELS.some((ch) => flows[ch].inflight.length > 0)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, config.stopTimeoutMs);
        t.unref();
        drainedWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const wasConnected = stats.connected;
    generation++;
    stats.connected = false;
    c.removeAllListeners("close");
    if (wasConnected) {
      // A clean DISCONNECT suppresses the will (MQTT-3.1.2-10), so say offline ourselves first.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        t.unref();
        c.publish(topicFor(truckId, "status"), statusPayload("offline"), { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.end(true);
        resolve();
      }, 1000);
      t.unref();
      c.end(!wasConnected, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
    log.info({ depth: outbox.depth() }, "uplink stopped");
  }

  return {
    async start() {
      if (client || stopping) throw new FleetError("FLEET_CLOSED", "uplink already started or stopped");
      unsubscribe = outbox.onCommit(() => {
        for (const ch of CHANNELS) void pump(ch);
      });
      connect();
    },
    stop,
    stats: () => ({ ...stats }),
    whenConnected() {
      if (stats.connected) return Promise.resolve();
      return new Promise((resolve) => connectedWaiters.push(resolve));
    },
  };
}
