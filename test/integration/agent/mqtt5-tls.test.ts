/**
 * The uplink as a truck runs it: MQTT 5 over TLS with the fleet's own CA, per-truck credentials, a persistent
 * session, the retained status topic. The broker is mosquitto (a real, independent MQTT 5 implementation) with a
 * certificate signed by a CA made here with openssl and a password file made with mosquitto_passwd.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { createAgent, parseAgentConfig } from "../../../agent/index.ts";
import { decodeTelemetry, type StatusRecord, type TelemetryRecord } from "../../../protocol/index.ts";
import { serverPki } from "../../support/pki.ts";
import { waitFor } from "../../support/wait.ts";
import { tempDir } from "./support.ts";

const TRUCK = "TRUCK-TLS-1";
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("uplink over MQTT 5 and TLS", () => {
  it("connects with the fleet CA and the truck's credentials, publishes records and a retained status", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const pki = serverPki(tmp.dir);
    const passwords = join(tmp.dir, "passwords");
    execFileSync("mosquitto_passwd", ["-b", "-c", passwords, TRUCK, "truck-secret"], { stdio: "ignore" });
    execFileSync("mosquitto_passwd", ["-b", passwords, "watcher", "watcher-secret"], { stdio: "ignore" });
    const port = await freePort();
    const conf = join(tmp.dir, "mosquitto.conf");
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${pki.ca}`,
        `certfile ${pki.cert}`,
        `keyfile ${pki.key}`,
        "allow_anonymous false",
        `password_file ${passwords}`,
        "persistence false",
        // Run as root, mosquitto would switch to its own user, which cannot read this test's private folder.
        `user ${userInfo().username}`,
        "",
      ].join("\n"),
    );
    const mosquitto: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    cleanups.push(async () => {
      if (mosquitto.exitCode !== null || mosquitto.signalCode !== null) return;
      const gone = new Promise((r) => mosquitto.once("exit", r));
      mosquitto.kill("SIGTERM");
      await gone;
    });
    const url = `mqtts://localhost:${port}`;
    const ca = [await import("node:fs").then((fs) => fs.readFileSync(pki.ca))];
    const watcher = await waitFor(
      () =>
        mqtt
          .connectAsync(url, {
            protocolVersion: 5,
            username: "watcher",
            password: "watcher-secret",
            ca,
            reconnectPeriod: 0,
          })
          .catch(() => undefined),
      "mosquitto with TLS up",
    );
    cleanups.push(() => watcher.endAsync());
    const telemetry: TelemetryRecord[] = [];
    const status: StatusRecord[] = [];
    watcher.on("message", (topic, payload) => {
      if (topic.endsWith("/telemetry")) {
        const r = decodeTelemetry(TRUCK, payload);
        if (r.ok) telemetry.push(...r.records);
      } else if (topic.endsWith("/status")) status.push(JSON.parse(payload.toString()) as StatusRecord);
    });
    await watcher.subscribeAsync(`fleetsync/v1/${TRUCK}/#`, { qos: 1 });

    const agent = createAgent(
      parseAgentConfig({
        truckId: TRUCK,
        broker: { url, password: "truck-secret", caFile: pki.ca, reconnectMinMs: 50, reconnectMaxMs: 200 },
        outbox: { dir: join(tmp.dir, "outbox"), commitIntervalMs: 20 },
        sampler: { minIntervalMs: 0, movingPeriodMs: 0, tickMs: 3_600_000 },
        metrics: { enabled: false },
      }),
      { version: "9.9.9", bootId: "boot-1" },
    );
    cleanups.push(() => agent.stop());
    await agent.start();
    await agent.uplink.whenConnected();
    for (let i = 0; i < 50; i++) {
      agent.state.applyFix({
        time: new Date(Date.UTC(2026, 10, 21, 7, 0, i)).toISOString(),
        fix: "3d",
        lat: 50,
        lon: 8 + i / 1000,
        altM: 100,
        speedKmh: 80,
        courseDeg: 90,
        sats: 12,
        hdop: 0.7,
        pdop: 1,
      });
      agent.sampler.evaluate();
    }
    await waitFor(() => telemetry.length >= 50 || undefined, "50 records through TLS");
    expect(telemetry.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(telemetry[0]).toMatchObject({ truckId: TRUCK, timeSource: "gnss", ts: "2026-11-21T07:00:00.000Z" });
    expect(status[0]).toMatchObject({ truckId: TRUCK, state: "online", agentVersion: "9.9.9", bootId: "boot-1" });
    await agent.stop();
    await waitFor(() => status.find((s) => s.state === "offline"), "offline status on a clean stop");
    // Retained: a client arriving later still learns the truck's last state.
    const late = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      username: "watcher",
      password: "watcher-secret",
      ca,
      clientId: "late",
      reconnectPeriod: 0,
    });
    cleanups.push(() => late.endAsync());
    const retained = new Promise<StatusRecord>((r) =>
      late.on("message", (_t, p) => r(JSON.parse(p.toString()) as StatusRecord)),
    );
    await late.subscribeAsync(`fleetsync/v1/${TRUCK}/status`, { qos: 1 });
    expect(await retained).toMatchObject({ state: "offline", truckId: TRUCK });
  });
});
