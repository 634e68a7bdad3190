/**
 * TCP and TLS listeners in front of Aedes. Each new connection is checked against the per-source limits and the
 * connection cap before Aedes sees a byte, and gets a packet-size guard: Aedes 1.x has no maximum packet size, and
 * its parser would buffer a packet of any announced length (up to 256 MiB) until it is complete, then handle it.
 */
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Aedes, Client } from "aedes";
import type { Logger } from "../../common/log.ts";
import type { SourceLimiter } from "../auth/limiter.ts";
import type { ListenerConfig } from "./config.ts";
import { PacketSizeScanner } from "./packet-size.ts";

export type ConnectionRefusal = "rate" | "blocked" | "capacity" | "packet-size";

export interface ListenerDeps {
  broker: Pick<Aedes, "handle">;
  limiter: SourceLimiter;
  logger: Logger;
  onRefused?(reason: ConnectionRefusal): void;
  onConnection?(listener: "tcp" | "tls"): void;
}

export interface Listener {
  start(): Promise<void>;
  /** Stops accepting; existing connections stay (the bridge drains and closes them). */
  stop(): Promise<void>;
  address(kind: "tcp" | "tls"): AddressInfo | undefined;
}

interface ParserLike {
  parse(buf: Buffer): number;
}

/**
 * Every read reaches the scanner before the parser (packet-size.ts says why it cannot be after): a too-large packet
 * closes the connection before any of it is parsed, so it is never forwarded, acknowledged or buffered.
 */
function guardPacketSize(client: Client, socket: Socket, maxBytes: number, onTooBig: () => void): void {
  const parser = (client as unknown as { _parser: ParserLike })._parser;
  const parse = parser.parse.bind(parser);
  const scanner = new PacketSizeScanner(maxBytes);
  parser.parse = (buf: Buffer) => {
    const verdict = scanner.scan(buf);
    if (verdict === "ok") return parse(buf);
    if (!socket.destroyed) {
      if (verdict === "too-large") onTooBig();
      socket.destroy();
    }
    return 0;
  };
}

export function createListener(config: ListenerConfig, deps: ListenerDeps): Listener {
  const servers = new Map<"tcp" | "tls", Server>();
  let open = 0;

  /**
   * The per-source limits and the connection cap, on the raw TCP socket. For TLS this runs on the server's
   * "connection" event, before the handshake: a flood from one source is refused without costing a handshake each,
   * and sockets still in their handshake count against maxConnections.
   */
  function admit(socket: Socket): boolean {
    const source = socket.remoteAddress ?? "unknown";
    const admitted = deps.limiter.admitConnection(source);
    if (!admitted.ok || open >= config.maxConnections) {
      const reason = admitted.ok ? "capacity" : admitted.reason;
      deps.onRefused?.(reason);
      deps.logger.debug({ source, reason }, "connection refused");
      socket.destroy();
      return false;
    }
    open += 1;
    socket.once("close", () => {
      open -= 1;
    });
    return true;
  }

  function serve(kind: "tcp" | "tls", socket: Socket): void {
    socket.setNoDelay(true);
    deps.onConnection?.(kind);
    const client = deps.broker.handle(socket);
    guardPacketSize(client, socket, config.maxPacketBytes, () => {
      deps.onRefused?.("packet-size");
      deps.logger.warn(
        { source: socket.remoteAddress, truckId: client.id, maxBytes: config.maxPacketBytes },
        "packet too large",
      );
    });
  }

  async function listen(kind: "tcp" | "tls", server: Server, host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    servers.set(kind, server);
    deps.logger.info({ listener: kind, address: server.address() }, "listening");
  }

  return {
    async start() {
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
    },

    async stop() {
      const closing = [...servers.values()].map(
        (server) => new Promise<void>((resolve) => server.close(() => resolve())),
      );
      servers.clear();
      // server.close() resolves only when every connection has ended; the bridge closes those after draining.
      void Promise.all(closing);
    },

    address(kind) {
      const address = servers.get(kind)?.address();
      return address && typeof address === "object" ? address : undefined;
    },
  };
}
