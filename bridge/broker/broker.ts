/**
 * The bridge's port to its MQTT engine, Aedes 1.x. This folder is the only place that knows Aedes' and
 * mqtt-packet's internals: the connection's parser (read guard, MQTT 5 reading), mqtt-packet's process-wide writer
 * (MQTT 5 writing), and how Aedes is constructed. Listener, auth and forwarder see the `Broker` interface below and
 * Aedes' public hooks (authenticate, authorizePublish, authorizeSubscribe), so moving to Aedes 2 (MQTT 5 natively)
 * is a change to this folder.
 */
import type { Duplex } from "node:stream";
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from "aedes";
import { installMqtt5Writer, type Mqtt5ServerProperties, mqtt5Acceptor } from "./mqtt5.ts";
import { checkEngines } from "./self-check.ts";

/** The publish the bridge itself sends to clients (a truck's config, in time). */
export type BrokerPublish = Pick<AedesPublishPacket, "topic" | "payload" | "qos" | "retain" | "properties">;

/** Sees every raw read of a connection before the MQTT parser does. */
export interface ReadGuard {
  /**
   * Returns false to drop the bytes: the guard has closed (or is closing) the socket, so nothing of them is parsed,
   * forwarded or acknowledged.
   */
  admit(bytes: Buffer): boolean;
}

/** One connection as the listener sees it. */
export interface BrokerConnection {
  /** The MQTT client id once the CONNECT was read. */
  readonly clientId: string | undefined;
  /** Runs once, when the login (CONNECT + authenticate) has completed. */
  onLogin(listener: () => void): void;
}

export interface BrokerEvents {
  client: [client: Client];
  /**
   * `clean`: the client sent an MQTT DISCONNECT (a goodbye). False when the connection just ended (a killed process,
   * a cut cable, a keepalive timeout, the bridge closing): the case the client's will is for (MQTT-3.1.2-8).
   */
  clientDisconnect: [client: Client, clean: boolean];
  clientError: [client: Client, error: Error];
  connectionError: [client: Client, error: Error];
  /** After the SUBACK: the subscriptions Aedes granted (a refused one is not among them). */
  subscribe: [subscriptions: { topic: string; qos: number }[], client: Client];
}

export interface BrokerOptions {
  id?: string;
  connectTimeoutMs: number;
  /** Announced to MQTT 5 clients in the CONNACK. */
  mqtt5: Mqtt5ServerProperties;
  hooks: Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeSubscribe">;
}

/** What the listener and the bridge use of the MQTT engine; unit tests swap in a double. */
export interface Broker {
  readonly id: string;
  /** Serves one accepted socket; `guard` sees every read first. */
  handle(socket: Duplex, guard?: ReadGuard): BrokerConnection;
  publish(packet: BrokerPublish): void;
  on<E extends keyof BrokerEvents>(event: E, listener: (...args: BrokerEvents[E]) => void): void;
  listen(): Promise<void>;
  /** Disconnects every client; safe to call twice. */
  close(): Promise<void>;
}

const GUARD = Symbol("fleetsync.bridge.readGuard");

interface GuardedParser {
  parse(buf: Buffer): number;
  [GUARD]: ReadGuard;
}

/**
 * Aedes 1.x reads a socket with `client._parser.parse(chunk)` (node_modules/aedes/lib/client.js, nextBatch), and
 * parse() hands every packet complete in the chunk to Aedes synchronously: a guard must run before it, so that one
 * connection's parse() is replaced by this one. One shared function, the guard kept on the parser: a closure and a
 * bound parse() per connection cost memory for every connected truck (issue 21).
 */
function guardedParse(this: GuardedParser, buf: Buffer): number {
  return this[GUARD].admit(buf) ? (Object.getPrototypeOf(this) as GuardedParser).parse.call(this, buf) : 0;
}

function guardReads(client: Client, guard: ReadGuard): void {
  const parser = (client as unknown as { _parser: GuardedParser })._parser;
  parser[GUARD] = guard;
  parser.parse = guardedParse;
}

/** The listener's view of one Aedes client: a class, not an object of closures per connection. */
class AedesConnection implements BrokerConnection {
  constructor(private readonly client: Client) {}

  get clientId(): string | undefined {
    return this.client.id ?? undefined;
  }

  onLogin(listener: () => void): void {
    this.client.once("connected", listener);
  }
}

/** Constructs Aedes for the bridge, after the self-check. Throws FLEET_ENGINE_UNSUPPORTED on an engine it does not know. */
export function createBroker(options: BrokerOptions): Broker {
  checkEngines();
  installMqtt5Writer();
  const acceptMqtt5 = mqtt5Acceptor(options.mqtt5);
  const aedes = new Aedes({
    ...(options.id ? { id: options.id } : {}),
    connectTimeout: options.connectTimeoutMs,
    preConnect(client, packet, callback) {
      acceptMqtt5(client, packet);
      callback(null, true);
    },
    ...options.hooks,
  });
  let closing: Promise<void> | undefined;
  return {
    id: aedes.id,
    handle(socket, guard) {
      const client = aedes.handle(socket);
      if (guard) guardReads(client, guard);
      return new AedesConnection(client);
    },
    publish(packet) {
      aedes.publish({ cmd: "publish", dup: false, ...packet } as AedesPublishPacket, () => undefined);
    },
    on(event, listener) {
      if (event === "clientDisconnect") {
        // Aedes emits clientDisconnect for both ends and does not say which; it sets `_disconnected` only on a valid
        // DISCONNECT packet (node_modules/aedes/lib/handlers/index.js), the flag that also withholds the will.
        const disconnected = listener as (...args: BrokerEvents["clientDisconnect"]) => void;
        aedes.on("clientDisconnect", (client) =>
          disconnected(client, (client as unknown as { _disconnected?: boolean })._disconnected === true),
        );
        return;
      }
      (aedes.on as (event: string, listener: (...args: never[]) => void) => void).call(aedes, event, listener as never);
    },
    listen: () => aedes.listen(),
    close() {
      closing ??= new Promise<void>((resolve) => aedes.close(() => resolve()));
      return closing;
    },
  };
}
