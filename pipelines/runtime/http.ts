/**
 * The operations routes every pipeline serves: /metrics (Prometheus text), /healthz (the process runs), /readyz
 * (the consumer has joined its group and not crashed since). A pipeline with a web server of its own (the map)
 * mounts them with `opsRoute`; the others run `createOpsServer`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { listenOn } from "../../common/listen.ts";
import type { Logger } from "../../common/log.ts";

export interface OpsDeps {
  registry: Registry;
  ready(): boolean;
  /** Why the pipeline is not ready beyond the consumer (e.g. its database is down), for /readyz's body. */
  notReadyReason?(): string | undefined;
  logger: Logger;
}

/** Answers an ops path and returns true, or returns false for any other path. */
export function opsRoute(deps: OpsDeps, path: string, res: ServerResponse): boolean {
  if (path === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return true;
  }
  if (path === "/readyz") {
    const reason = deps.notReadyReason?.();
    const ready = deps.ready() && reason === undefined;
    const body = ready ? "ready\n" : `not ready${reason === undefined ? "" : `: ${reason}`}\n`;
    res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(body);
    return true;
  }
  if (path === "/metrics") {
    deps.registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": deps.registry.contentType }).end(body),
      (error: unknown) => {
        deps.logger.error({ err: error }, "metrics failed");
        res.writeHead(500).end();
      },
    );
    return true;
  }
  return false;
}

export function requestPath(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The bound address of a listening server (undefined before start and after stop). */
export function serverAddress(server: Server | undefined): AddressInfo | undefined {
  const address = server?.address();
  return address && typeof address === "object" ? address : undefined;
}

export interface OpsServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): AddressInfo | undefined;
}

export function createOpsServer(config: { host: string; port: number }, deps: OpsDeps): OpsServer {
  let server: Server | undefined;
  return {
    async start() {
      server = createServer((req, res) => {
        if (!opsRoute(deps, requestPath(req), res)) res.writeHead(404).end("not found\n");
      });
      await listenOn(server, { host: config.host, port: config.port, field: "http.port" });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await closeServer(s);
    },
    address: () => serverAddress(server),
  };
}
