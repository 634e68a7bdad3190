/**
 * The map's web side over real sockets (HTTP and WebSocket on loopback; no Kafka needed): the access token guards
 * the page, its assets and the socket, and a cookie carries it after the first visit; health stays open; the
 * socket sends a snapshot, then a delta with the newest state; browsers beyond maxClients are refused.
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { silentLogger } from "../../../common/log.ts";
import { parseMapConfig } from "../../../pipelines/map/config.ts";
import { createMapServer, type MapServer } from "../../../pipelines/map/server.ts";
import { createFleetState } from "../../../pipelines/map/state.ts";
import { waitFor } from "../../support/wait.ts";
import { telemetry } from "./support.ts";

const TOKEN = "a-long-enough-test-token";
const servers: MapServer[] = [];

async function start(extra: Record<string, unknown> = {}) {
  const config = parseMapConfig({
    kafka: { brokers: ["127.0.0.1:1"] },
    http: { host: "127.0.0.1", port: 0, token: TOKEN },
    deltaIntervalMs: 50,
    ...extra,
  });
  const state = createFleetState(config);
  const server = createMapServer(config, { state, registry: new Registry(), ready: () => true, logger: silentLogger });
  await server.start();
  servers.push(server);
  return { state, base: `http://127.0.0.1:${server.address()!.port}` };
}

function socket(base: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${base.replace("http", "ws")}/ws`, { headers });
  const messages: { type: string; trucks: { id: string; seq: number }[] }[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return { ws, messages, opened };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe("map web server", () => {
  it("needs the token for the page, its assets and the socket; the first visit sets a cookie", async () => {
    const { state, base } = await start();
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/vendor/leaflet.js`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await expect(socket(base).opened).rejects.toThrow("HTTP 401");

    const page = await fetch(`${base}/?token=${TOKEN}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("FleetSync live map");
    const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const asset = await fetch(`${base}/world.json`, { headers: { cookie } });
    expect(asset.status).toBe(200);
    expect(((await asset.json()) as { type: string }).type).toBe("Topology");
    expect((await fetch(`${base}/`, { headers: { cookie: "fleetsync_map=wrong-token-of-some-length" } })).status).toBe(
      401,
    );

    state.applyTelemetry(telemetry("M1", 1), Date.now());
    const client = socket(base, { cookie });
    await client.opened;
    await waitForMessages(client.messages, 1);
    expect(client.messages[0]).toMatchObject({ type: "snapshot", trucks: [{ id: "M1", seq: 1 }] });
    state.applyTelemetry(telemetry("M1", 2), Date.now());
    state.applyTelemetry(telemetry("M1", 3), Date.now());
    await waitForMessages(client.messages, 2);
    expect(client.messages[1]).toMatchObject({ type: "delta", trucks: [{ id: "M1", seq: 3 }] });
    client.ws.close();
  });

  it("refuses browsers beyond maxClients", async () => {
    const { base } = await start({ maxClients: 1 });
    const first = socket(base, { authorization: `Bearer ${TOKEN}` });
    await first.opened;
    await expect(socket(base, { authorization: `Bearer ${TOKEN}` }).opened).rejects.toThrow("HTTP 503");
    first.ws.close();
  });
});

function waitForMessages(list: unknown[], n: number): Promise<unknown> {
  return waitFor(() => list.length >= n, `${n} socket messages`, { timeoutMs: 10_000 });
}
