/**
 * The uplink's connection to the broker: one MQTT session at a time, its status topic, and reconnecting with backoff
 * and jitter when it is lost.
 *
 * Each connection attempt gets a fresh client (reconnectPeriod 0): MQTT.js's own offline queue is unbounded and its
 * own retry would resend records behind our back. Every connection has a generation; anything begun on an older one
 * (a publish whose PUBACK arrives late) is recognised as stale and ignored. On a lost connection the drain forgets its
 * in-flight batches and the next connection starts again from the outbox head, so the outbox stays the only queue.
 */
import type { IClientOptions } from "mqtt";
import type { Logger } from "../../common/log.ts";
import { type StatusRecord, topicFor } from "../../protocol/index.ts";
import { backoffDelay } from "./backoff.ts";
import type { UplinkConfig } from "./config.ts";
import type { ConnectMqtt, MqttPort } from "./mqtt-port.ts";
import type { AgentStatusFields, UplinkStats } from "./types.ts";

/** A live connection: its client and its generation. */
export interface Session {
  client: MqttPort;
  generation: number;
}

export interface ConnectionDeps {
  truckId: string;
  connect: ConnectMqtt;
  log: Logger;
  /** The counters the uplink reports; the connection keeps `connected`, `connects`, `disconnects`. */
  stats: UplinkStats;
  /** Agent details for the status topic. */
  status: () => AgentStatusFields;
  /** Remote config payloads; when given, every session subscribes to the truck's config topic. */
  onConfig?: (payload: Buffer) => void;
  /** The outbox's depth, for the status topic and the logs. */
  depth: () => number;
  ca: Buffer | undefined;
  /** A new session is up: the drain starts from the outbox head. */
  onUp(session: Session): void;
  /** The session is gone: every in-flight batch is forgotten. */
  onDown(): void;
  /** For the jitter; Math.random unless a test fixes it. */
  random?: () => number;
}

export interface Connection {
  /** Opens the first connection (the rest follow by themselves). */
  open(): void;
  /** The live session, or undefined while disconnected or stopping. */
  session(): Session | undefined;
  /** The current generation: a batch begun on another one is stale. */
  generation(): number;
  /** The session failed under a publish (a refused PUBACK, a broken client): drop it and reconnect. */
  fail(): void;
  /** No reconnecting from now on, no new session handed out. False when already stopping. */
  beginStop(): boolean;
  /** Whether a client was ever opened. */
  opened(): boolean;
  /** Says offline on the status topic (when connected) and ends the session, within bounded waits. */
  close(): Promise<void>;
  whenConnected(): Promise<void>;
  /** Publishes the online status again on the live session. */
  publishStatus(): void;
}

export function createConnection(config: UplinkConfig, deps: ConnectionDeps): Connection {
  const { truckId, log, stats } = deps;
  let client: MqttPort | undefined;
  let generation = 0;
  let attempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  let connectedWaiters: Array<() => void> = [];

  function statusPayload(state: "online" | "offline"): Buffer {
    const s: StatusRecord = {
      truckId,
      state,
      ts: new Date().toISOString(),
      ...deps.status(),
      ...(state === "online" ? { outboxDepth: deps.depth() } : {}),
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
      ...(deps.ca ? { ca: deps.ca, rejectUnauthorized: true } : {}),
      ...(config.protocolVersion === 5 ? { properties: { sessionExpiryInterval: config.sessionExpiryS } } : {}),
      will: { topic: topicFor(truckId, "status"), payload: statusPayload("offline"), qos: 1, retain: true },
    };
    const c = deps.connect(config.url, options);
    client = c;
    c.on("connect", () => {
      if (gen !== generation) return;
      attempt = 0;
      stats.connected = true;
      stats.connectedAt = Date.now();
      stats.connects++;
      log.info({ url: config.url, depth: deps.depth() }, "uplink connected");
      publishOnline(c, gen);
      if (deps.onConfig) subscribeConfig(c, gen, deps.onConfig);
      deps.onUp({ client: c, generation: gen });
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

  function publishOnline(c: MqttPort, gen: number): void {
    c.publish(topicFor(truckId, "status"), statusPayload("online"), { qos: 1, retain: true }, (err) => {
      if (err && gen === generation) log.warn({ err }, "uplink: status online not acknowledged");
    });
  }

  /**
   * Every session subscribes again (each connection is a fresh client): the bridge sends the desired config on
   * the SUBSCRIBE, so a truck gets it on every reconnect, whichever bridge it lands on.
   */
  function subscribeConfig(c: MqttPort, gen: number, onConfig: (payload: Buffer) => void): void {
    const topic = topicFor(truckId, "config");
    c.on("message", (t, payload) => {
      if (gen === generation && t === topic) onConfig(payload);
    });
    c.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (gen !== generation) return;
      if (err || granted?.some((g) => g.qos >= 0x80)) log.warn({ err, granted }, "uplink: config subscription refused");
    });
  }

  function lost(c: MqttPort): void {
    generation++; // every in-flight batch of the old connection is now stale
    if (stats.connected) {
      stats.disconnects++;
      log.warn({ depth: deps.depth() }, "uplink disconnected");
    }
    stats.connected = false;
    deps.onDown();
    c.removeAllListeners("close");
    c.on("error", () => {});
    c.end(true);
    if (stopping) return;
    const delay = backoffDelay(attempt++, config.reconnectMinMs, config.reconnectMaxMs, deps.random);
    log.info({ delayMs: delay, attempt }, "uplink: reconnecting");
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!stopping) connect();
    }, delay);
    reconnectTimer.unref();
  }

  async function close(): Promise<void> {
    const c = client;
    if (!c) return;
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
  }

  return {
    open: connect,
    session: () => (stats.connected && !stopping && client ? { client, generation } : undefined),
    generation: () => generation,
    fail() {
      if (client) lost(client);
    },
    beginStop() {
      if (stopping) return false;
      stopping = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      return true;
    },
    opened: () => client !== undefined,
    close,
    publishStatus() {
      if (stats.connected && !stopping && client) publishOnline(client, generation);
    },
    whenConnected() {
      if (stats.connected) return Promise.resolve();
      return new Promise((resolve) => connectedWaiters.push(resolve));
    },
  };
}
