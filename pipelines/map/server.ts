/**
 * The map's web side: the page and its bundled assets (nothing comes from a CDN: Leaflet, topojson-client and the
 * Natural Earth outline from world-atlas are served from the installed packages), a WebSocket at /ws (snapshot on
 * connect, then coalesced deltas), and the ops routes. Read-only: a browser can ask for nothing but trails.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import { Counter, Gauge } from "prom-client";
import { WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../../common/log.ts";
import { listenOn } from "../../common/listen.ts";
import { closeServer, opsRoute, requestPath, serverAddress } from "../runtime/http.ts";
import { type ClientQueue, createClientQueue, snapshotOf } from "./coalesce.ts";
import type { MapConfig } from "./config.ts";
import type { FleetState } from "./state.ts";

const require = createRequire(import.meta.url);
const PAGE_DIR = join(import.meta.dirname, "page");
const COOKIE = "fleetsync_map";

interface Asset {
  file: string;
  type: string;
}

/** URL path -> file. The outline is Natural Earth 1:50m (world-atlas), about 750 kB, fetched once per page load. */
const ASSETS: Record<string, Asset> = {
  "/": { file: join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/app.js": { file: join(PAGE_DIR, "app.js"), type: "text/javascript; charset=utf-8" },
  "/app.css": { file: join(PAGE_DIR, "app.css"), type: "text/css; charset=utf-8" },
  "/vendor/leaflet.js": { file: require.resolve("leaflet/dist/leaflet.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/leaflet.css": { file: require.resolve("leaflet/dist/leaflet.css"), type: "text/css; charset=utf-8" },
  "/vendor/topojson-client.js": {
    file: require.resolve("topojson-client/dist/topojson-client.min.js"),
    type: "text/javascript; charset=utf-8",
  },
  "/world.json": { file: require.resolve("world-atlas/countries-50m.json"), type: "application/json" },
};

export interface MapServerDeps {
  state: FleetState;
  registry: Registry;
  ready(): boolean;
  logger: Logger;
}

export interface MapServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  address(): AddressInfo | undefined;
  clients(): number;
}

interface Client {
  socket: WebSocket;
  queue: ClientQueue;
  unsubscribe: () => void;
}

export function createMapServer(config: MapConfig, deps: MapServerDeps): MapServer {
  const { state, logger } = deps;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const clients = new Set<Client>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const tokenDigest = config.http.token === undefined ? undefined : digest(config.http.token);
  let server: Server | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const metrics = {
    clients: new Gauge({ name: "fleetsync_map_clients", help: "Browsers connected.", registers: [deps.registry] }),
    deltas: new Counter({
      name: "fleetsync_map_deltas_total",
      help: "Delta messages sent to browsers.",
      registers: [deps.registry],
    }),
    skipped: new Counter({
      name: "fleetsync_map_skipped_intervals_total",
      help: "Intervals a slow browser skipped because its socket held more than maxClientBufferBytes.",
      registers: [deps.registry],
    }),
    refused: new Counter({
      name: "fleetsync_map_refused_total",
      help: "Requests refused, by reason (token, clients).",
      labelNames: ["reason"] as const,
      registers: [deps.registry],
    }),
  };

  function authorized(req: IncomingMessage, url: URL): boolean {
    if (tokenDigest === undefined) return true;
    const offered =
      url.searchParams.get("token") ??
      req.headers.authorization?.replace(/^Bearer /, "") ??
      cookie(req.headers.cookie, COOKIE);
    return offered !== undefined && timingSafeEqual(digest(offered), tokenDigest);
  }

  function securityHeaders(res: ServerResponse): void {
    const tiles = config.http.tileUrl ? ` ${new URL(config.http.tileUrl.replace(/[{}]/g, "")).origin}` : "";
    res.setHeader(
      "content-security-policy",
      `default-src 'self'; img-src 'self' data:${tiles}; style-src 'self' 'unsafe-inline'; connect-src 'self'`,
    );
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = requestPath(req);
    if (path === "/healthz" || path === "/readyz") {
      opsRoute({ registry: deps.registry, ready: deps.ready, logger }, path, res);
      return;
    }
    const url = new URL(req.url ?? "/", "http://map.invalid");
    if (!authorized(req, url)) {
      metrics.refused.inc({ reason: "token" });
      res.writeHead(401, { "content-type": "text/plain" }).end("a valid token is needed: open /?token=...\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (opsRoute({ registry: deps.registry, ready: deps.ready, logger }, path, res)) return;
    securityHeaders(res);
    if (url.searchParams.has("token") && config.http.token !== undefined) {
      res.setHeader("set-cookie", `${COOKIE}=${config.http.token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (path === "/config.json") {
      const body = JSON.stringify({
        tileUrl: config.http.tileUrl ?? null,
        deltaIntervalMs: config.deltaIntervalMs,
        trailPoints: config.trailPoints,
      });
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(body);
      return;
    }
    const asset = assets.get(path);
    if (!asset) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": asset.type, "cache-control": "no-cache" }).end(asset.body);
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://map.invalid");
    const refuse = (status: string, reason: string) => {
      metrics.refused.inc({ reason });
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    };
    if (url.pathname !== "/ws") return refuse("404 Not Found", "path");
    if (!authorized(req, url)) return refuse("401 Unauthorized", "token");
    if (clients.size >= config.maxClients) return refuse("503 Service Unavailable", "clients");
    wss.handleUpgrade(req, socket, head, (ws) => connected(ws));
  }

  function connected(socket: WebSocket): void {
    const queue = createClientQueue({ maxEvents: config.feedSize, maxBufferedBytes: config.maxClientBufferBytes });
    const client: Client = { socket, queue, unsubscribe: state.subscribe(queue) };
    clients.add(client);
    metrics.clients.set(clients.size);
    socket.send(JSON.stringify(snapshotOf(state, Date.now())));
    socket.on("message", (data) => {
      // The only request a page may make: the trails, once, when the operator switches them on.
      let request: { type?: unknown } | undefined;
      try {
        request = JSON.parse(String(data)) as { type?: unknown };
      } catch {}
      if (request?.type !== "trails") return;
      const trails: Record<string, [number, number][]> = {};
      for (const view of state.all()) trails[view.id] = state.trail(view.id);
      socket.send(JSON.stringify({ type: "trails", trails }));
    });
    const drop = () => {
      if (!clients.delete(client)) return;
      client.unsubscribe();
      metrics.clients.set(clients.size);
    };
    socket.on("close", drop);
    socket.on("error", (error) => {
      logger.debug({ err: error }, "browser socket error");
      drop();
    });
  }

  function tick(): void {
    const now = Date.now();
    for (const client of clients) {
      if (client.socket.readyState !== WebSocket.OPEN) continue;
      const before = client.queue.stats().skipped;
      const delta = client.queue.take(state, client.socket.bufferedAmount, now);
      if (delta) {
        client.socket.send(JSON.stringify(delta));
        metrics.deltas.inc();
      } else if (client.queue.stats().skipped > before) metrics.skipped.inc();
    }
  }

  return {
    async start() {
      for (const [path, asset] of Object.entries(ASSETS)) {
        assets.set(path, { body: await readFile(asset.file), type: asset.type });
      }
      server = createServer(handle);
      server.on("upgrade", upgrade);
      await listenOn(server, { host: config.http.host, port: config.http.port, field: "http.port" });
      ticker = setInterval(tick, config.deltaIntervalMs);
      ticker.unref();
    },
    async stop() {
      clearInterval(ticker);
      ticker = undefined;
      for (const client of clients) {
        client.unsubscribe();
        client.socket.terminate();
      }
      clients.clear();
      wss.close();
      const s = server;
      server = undefined;
      if (s) await closeServer(s);
    },
    address: () => serverAddress(server),
    clients: () => clients.size,
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}
