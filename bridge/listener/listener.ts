/**
 * TCP and TLS listeners in front of Aedes. Each new connection is checked against the per-source limits and the
 * connection cap before Aedes sees a byte, and gets a packet-size guard: Aedes 1.x has no maximum packet size, and
 * its parser would buffer a packet of any announced length (up to 256 MiB) until it is complete, then handle it.
 */
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { listenOn } from "../../common/listen.ts";
import type { Logger } from "../../common/log.ts";
import { type SourceLimiter, sourceKey } from "../auth/limiter.ts";
import type { Broker, BrokerConnection, ReadGuard } from "../broker/broker.ts";
import { PacketSizeScanner } from "../broker/packet-size.ts";
import type { ListenerConfig } from "./config.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";

export type ConnectionRefusal = "rate" | "capacity" | "packet-size" | "pre-login-bytes" | "pre-login-budget";

export interface ListenerDeps {
  broker: Pick<Broker, "handle">;
  limiter: SourceLimiter;
  logger: Logger;
  onRefused?(reason: ConnectionRefusal): void;
  onConnection?(listener: "tcp" | "tls"): void;
  /** Bytes held by connections that have not logged in, whenever it changes. */
  onPreLoginBytes?(bytes: number): void;
}

export interface Listener extends Lifecycle {
  start(): Promise<void>;
  /** Stops accepting; existing connections stay (the bridge drains and closes them). */
  stop(): Promise<void>;
  address(kind: "tcp" | "tls"): AddressInfo | undefined;
}

/**
 * Pre-login bytes (issue 13.4). mqtt-packet buffers a packet until it is complete, so a socket that announces a
 * 256 KB CONNECT and sends it slowly holds up to that much, and thousands of them held gigabytes. Until its login
 * completes, every byte a connection sends is counted against its own cap and against a budget shared by all
 * connections not logged in yet; the budget is given back at login or close. Counting what was sent (not what
 * the parser still holds) is the safe side: before the CONNACK, Aedes also queues packets that follow a CONNECT.
 */
class PreLoginBudget {
  held = 0;
  constructor(
    private readonly max: number,
    private readonly onChange: (bytes: number) => void,
  ) {}

  get full(): boolean {
    return this.held >= this.max;
  }

  take(bytes: number): boolean {
    if (this.held + bytes > this.max) return false;
    this.held += bytes;
    this.onChange(this.held);
    return true;
  }

  give(bytes: number): void {
    if (bytes === 0) return;
    this.held -= bytes;
    this.onChange(this.held);
  }
}

interface ReadGuards {
  maxPacketBytes: number;
  maxPreLoginBytes: number;
  budget: PreLoginBudget;
  onRefused(reason: "packet-size" | "pre-login-bytes" | "pre-login-budget", connection: GuardedSocket): void;
}

/**
 * Every read passes the pre-login limits and the packet-size scanner before the parser (packet-size.ts says why it
 * cannot be after): a too-large packet, or too many bytes before login, close the connection before any of it is
 * parsed, so it is never forwarded, acknowledged or buffered. One object per connection, its limits shared by the
 * listener: every connected truck holds one, so it holds no closures of its own (issue 21, memory per truck).
 */
class GuardedSocket implements ReadGuard {
  private readonly scanner: PacketSizeScanner;
  private held = 0;
  private loggedIn = false;
  connection: BrokerConnection | undefined;

  constructor(
    readonly socket: Socket,
    private readonly guards: ReadGuards,
  ) {
    this.scanner = new PacketSizeScanner(guards.maxPacketBytes);
  }

  admit(buf: Buffer): boolean {
    if (!this.loggedIn) {
      if (this.held + buf.length > this.guards.maxPreLoginBytes) return this.refuse("pre-login-bytes");
      if (!this.guards.budget.take(buf.length)) return this.refuse("pre-login-budget");
      this.held += buf.length;
    }
    const verdict = this.scanner.scan(buf);
    if (verdict === "ok") return true;
    if (verdict === "too-large") return this.refuse("packet-size");
    this.socket.destroy();
    return false;
  }

  /** At login or close: what it sent before login goes back to the shared budget, and is no longer counted. */
  release(): void {
    this.loggedIn = true;
    this.guards.budget.give(this.held);
    this.held = 0;
  }

  private refuse(reason: "packet-size" | "pre-login-bytes" | "pre-login-budget"): false {
    if (!this.socket.destroyed) {
      this.guards.onRefused(reason, this);
      this.socket.destroy();
    }
    return false;
  }
}

export function createListener(config: ListenerConfig, deps: ListenerDeps): Listener {
  const servers = new Map<"tcp" | "tls", Server>();
  let open = 0;
  const budget = new PreLoginBudget(config.maxPreLoginBytesTotal, (bytes) => deps.onPreLoginBytes?.(bytes));
  const guards: ReadGuards = {
    maxPacketBytes: config.maxPacketBytes,
    maxPreLoginBytes: config.maxPreLoginBytes,
    budget,
    onRefused(reason, { socket, connection }) {
      deps.onRefused?.(reason);
      const source = socket.remoteAddress;
      if (reason === "packet-size") {
        deps.logger.warn(
          { source, truckId: connection?.clientId, maxBytes: config.maxPacketBytes },
          "packet too large",
        );
      } else deps.logger.debug({ source, reason }, "connection closed before login");
    },
  };
  /** One listener for every admitted socket's close (a closure per socket would be memory per truck). */
  const closed = () => {
    open -= 1;
  };

  /**
   * The per-source limits and the connection cap, on the raw TCP socket. For TLS this runs on the server's
   * "connection" event, before the handshake: a flood from one source is refused without costing a handshake each,
   * and sockets still in their handshake count against maxConnections.
   */
  function admit(socket: Socket): boolean {
    const source = sourceKey(socket.remoteAddress);
    const admitted = deps.limiter.admitConnection(source);
    if (!admitted.ok || open >= config.maxConnections || budget.full) {
      const reason = !admitted.ok ? admitted.reason : budget.full ? "pre-login-budget" : "capacity";
      deps.onRefused?.(reason);
      deps.logger.debug({ source, reason }, "connection refused");
      socket.destroy();
      return false;
    }
    open += 1;
    socket.on("close", closed);
    return true;
  }

  function serve(kind: "tcp" | "tls", socket: Socket): void {
    socket.setNoDelay(true);
    deps.onConnection?.(kind);
    const guarded = new GuardedSocket(socket, guards);
    socket.on("close", () => guarded.release());
    guarded.connection = deps.broker.handle(socket, guarded);
    guarded.connection.onLogin(() => guarded.release());
  }

  async function listen(kind: "tcp" | "tls", server: Server, host: string, port: number): Promise<void> {
    await listenOn(server, { host, port, field: `listener.${kind}.port`, backlog: config.backlog });
    servers.set(kind, server);
    deps.logger.info({ listener: kind, address: server.address() }, "listening");
  }

  const life = new LifecycleGuard("the MQTT listener");
  return {
    start: () =>
      life.start(async () => {
        if (config.tcp) {
          const server = createServer((socket) => {
            if (admit(socket)) serve("tcp", socket);
          });
          await listen("tcp", server, config.tcp.host, config.tcp.port);
        }
        if (config.tls) {
          const tls = config.tls;
          const [cert, key, ca] = await Promise.all([
            readFile(tls.certFile),
            readFile(tls.keyFile),
            tls.caFile ? readFile(tls.caFile) : undefined,
          ]);
          const server = createTlsServer(
            {
              cert,
              key,
              ca,
              requestCert: ca !== undefined,
              rejectUnauthorized: tls.requireClientCertificate,
              // A handshake that never finishes holds a connection slot no longer than a missing CONNECT would.
              handshakeTimeout: config.connectTimeoutMs,
            },
            (socket) => serve("tls", socket),
          );
          // Runs after tls.Server's own "connection" listener has wrapped the socket; destroying the raw socket here
          // ends the connection before any handshake byte is answered.
          server.on("connection", (socket: Socket) => void admit(socket));
          server.on("tlsClientError", (error) => deps.logger.debug({ err: error }, "TLS handshake failed"));
          await listen("tls", server, tls.host, tls.port);
        }
      }),

    stop: () =>
      life.stop(async () => {
        const closing = [...servers.values()].map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        );
        servers.clear();
        // server.close() resolves only when every connection has ended; the bridge closes those after draining.
        void Promise.all(closing);
      }),

    address(kind) {
      const address = servers.get(kind)?.address();
      return address && typeof address === "object" ? address : undefined;
    },
  };
}
