/**
 * The operations endpoint: /metrics (Prometheus text), /healthz (the process runs), /readyz (can deliver now: 200
 * or 503, with the reasons and any notes for operators in the body, one per line).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { listenOn } from "../../common/listen.ts";
import type { Logger } from "../../common/log.ts";
import type { HttpConfig } from "./config.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";

export interface HttpDeps {
  registry: Registry;
  ready(): Promise<{ ready: boolean; reasons: string[]; notes: string[] }>;
  logger: Logger;
}

export interface HttpServer extends Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): AddressInfo | undefined;
}

export function createHttpServer(config: HttpConfig, deps: HttpDeps): HttpServer {
  let server: Server | undefined;

  const handle = async (path: string): Promise<{ status: number; type: string; body: string }> => {
    if (path === "/metrics")
      return { status: 200, type: deps.registry.contentType, body: await deps.registry.metrics() };
    if (path === "/healthz") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === "/readyz") {
      const { ready, reasons, notes } = await deps.ready();
      const lines = [ready ? "ready" : "not ready", ...reasons, ...notes.map((note) => `note: ${note}`)];
      return { status: ready ? 200 : 503, type: "text/plain", body: `${lines.join("\n")}\n` };
    }
    return { status: 404, type: "text/plain", body: "not found\n" };
  };

  const life = new LifecycleGuard("the metrics endpoint");
  return {
    start: () =>
      life.start(async () => {
        server = createServer((req, res) => {
          const path = (req.url ?? "/").split("?")[0] ?? "/";
          handle(path).then(
            ({ status, type, body }) => {
              res.writeHead(status, { "content-type": type });
              res.end(body);
            },
            (error: unknown) => {
              deps.logger.error({ err: error }, "http handler failed");
              res.writeHead(500).end();
            },
          );
        });
        await listenOn(server, { host: config.host, port: config.port, field: "http.port" });
      }),
    stop: () =>
      life.stop(async () => {
        const s = server;
        server = undefined;
        if (!s) return;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }),
    address() {
      const address = server?.address();
      return address && typeof address === "object" ? address : undefined;
    },
  };
}
