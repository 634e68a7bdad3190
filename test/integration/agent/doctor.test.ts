/**
 * `fleetsync doctor` against real parts: two pseudo-terminals (socat) fed with real captures (a GPS log from the
 * gpsd corpus, a J1939 truck log as candump lines), a real MQTT broker over TCP (Aedes with a password check; and
 * mosquitto speaking MQTT 5, which is not a FleetSync bridge and so never confirms).
 */
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { Aedes } from "aedes";
import { afterEach, describe, expect, it } from "vitest";
import { runFleetsync } from "../../support/cli.ts";
import { waitFor } from "../../support/wait.ts";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { ptyPair, REPO, spawnAgent, waitStarted, writeConfig } from "./process.ts";
import { tempDir } from "./support.ts";

const FIXTURES = resolve(REPO, "../shared/fixtures");
const GPS_LOG = join(FIXTURES, "nmea/gpsd/bu353s4.log");
const CAN_LOG = join(FIXTURES, "can/css-electronics/j1939_truck_11111111_00000001.candump.log");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Replays a capture into a pty in a loop, a few lines at a time, like the device would. */
function replay(path: string, lines: string[], perTick: number, eol: string): () => Promise<void> {
  const out = createWriteStream(path);
  let i = 0;
  const timer = setInterval(() => {
    let chunk = "";
    for (let k = 0; k < perTick; k++) chunk += lines[i++ % lines.length] + eol;
    out.write(chunk);
  }, 20);
  out.on("error", () => {}); // EIO once the pty is gone
  return async () => {
    clearInterval(timer);
    // Not end(): once doctor has closed the device, nobody reads the pty, its buffer fills and the stream's write
    // blocks in a libuv pool thread; end() would wait for it for ever (seen as a 120 s afterEach timeout with other
    // test files running). destroy() gives up what is queued; stopping socat (the next cleanup) ends the write.
    out.destroy();
  };
}

interface DoctorOutput {
  ok: boolean;
  steps: Array<{ step: string; status: string; detail: string; data?: Record<string, unknown> }>;
}

async function doctor(args: string[]): Promise<{ code: number | null; out: DoctorOutput; stderr: string }> {
  const { code, stdout, stderr } = await runFleetsync(["doctor", ...args]);
  return { code, out: JSON.parse(stdout) as DoctorOutput, stderr };
}

function step(out: DoctorOutput, name: string) {
  const s = out.steps.find((x) => x.step === name);
  if (!s) throw new Error(`no step ${name} in ${JSON.stringify(out)}`);
  return s;
}

async function devices(dir: string) {
  const gps = await ptyPair(dir, "gps");
  const can = await ptyPair(dir, "can");
  cleanups.push(
    () => gps.close(),
    () => can.close(),
  );
  const nmea = readFileSync(GPS_LOG, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.startsWith("$"));
  const frames = readFileSync(CAN_LOG, "utf8")
    .split("\n")
    .filter((l) => l.includes(" can1 "))
    .slice(0, 20_000);
  cleanups.push(replay(gps.feed, nmea, 4, "\r\n"), replay(can.feed, frames, 40, "\n"));
  return { gps, can };
}

async function aedesWithPassword(truckId: string, password: string) {
  const received: string[] = [];
  const aedes = await Aedes.createBroker({
    authenticate: (_client, username, pw, done) => done(null, username === truckId && pw?.toString() === password),
    authorizePublish: (_client, packet, done) => {
      received.push(packet.topic);
      done(null);
    },
  });
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, received };
}

describe("fleetsync doctor", () => {
  it("shows a configured port that does not exist, and the running agent's view of it (warned once, counted)", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const metricsPort = await freePort();
    const missing = join(tmp.dir, "ttyUSB-not-plugged");
    const file = await writeConfig(tmp.dir, {
      truckId: "TRUCK-DOC-3",
      gps: { path: missing, reconnectMinMs: 20, reconnectMaxMs: 40 },
      broker: { url: "mqtt://127.0.0.1:9", protocolVersion: 4 },
      outbox: { dir: join(tmp.dir, "outbox") },
      metrics: { enabled: true, port: metricsPort },
    });
    const agent = spawnAgent(file, { logLevel: "info" });
    cleanups.push(async () => {
      agent.child.kill("SIGKILL");
      await agent.exited;
    });
    await waitStarted(agent);
    // The open fails every 40 ms; the warning says so once per logRepeatMs (60 s), not 25 times a second.
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(/^fleetsync_agent_serial_errors_total\{source="gps",path="[^"]*"\} (\d+)$/m.exec(text)?.[1]) >= 20;
    }, "20 open failures counted");
    const warnings = agent.logs.filter((l) => l.msg === "serial port cannot be opened; retrying");
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatchObject({ level: 40, path: missing, code: "FLEET_SERIAL_OPEN" });

    const { out } = await doctor(["--config", file, "--port", missing, "--json", "--timeout-ms", "500"]);
    expect(step(out, "configured ports")).toMatchObject({ status: "fail" });
    expect(step(out, "configured ports").detail).toContain(`GPS ${missing}: MISSING`);
    const ports = step(out, "agent's ports");
    expect(ports.status).toBe("fail");
    expect(ports.detail).toMatch(new RegExp(`GPS ${missing}: NOT open, 0 bytes read, \\d+ errors`));
  });

  it("finds the GPS and the CAN adapter by listening, reads the fix and the traffic, and checks the broker", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const { gps, can } = await devices(tmp.dir);
    const broker = await aedesWithPassword("TRUCK-DOC-1", "right");
    const config = (password: string) => ({
      truckId: "TRUCK-DOC-1",
      gps: { path: gps.device },
      can: { path: can.device, format: "candump" },
      broker: { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 4, password },
      outbox: { dir: join(tmp.dir, "outbox") },
      // No agent runs here; off, so that another process on the default port cannot answer for it.
      metrics: { enabled: false },
    });
    const file = await writeConfig(tmp.dir, config("right"));
    // The ports are given in the "wrong" order on purpose: doctor must tell them apart by what they say.
    const ports = ["--port", can.device, "--port", gps.device];
    const { code, out } = await doctor(["--config", file, ...ports, "--json", "--listen-ms", "1200"]);

    expect(step(out, "GPS port")).toMatchObject({ status: "pass", data: { path: gps.device } });
    expect(step(out, "GPS fix").status).toBe("pass");
    expect(step(out, "GPS fix").detail).toMatch(/fix with \d+ satellites/);
    expect(step(out, "CAN port")).toMatchObject({ status: "pass", data: { path: can.device, format: "candump" } });
    const traffic = step(out, "CAN traffic");
    expect(traffic.status).toBe("pass");
    expect(traffic.data?.framesPerSec as number).toBeGreaterThan(100);
    expect(traffic.detail).toMatch(/engine speed \d+ rpm/);
    expect(step(out, "broker reachable").status).toBe("pass");
    expect(step(out, "credentials accepted").status).toBe("pass");
    expect(step(out, "test record").status).toBe("pass");
    expect(broker.received).toContain("fleetsync/v1/TRUCK-DOC-1/telemetry");
    expect(out.ok).toBe(true);
    expect(code).toBe(0);

    // The same truck with a wrong password: the credentials step fails in plain words, exit code 1.
    writeFileSync(file, JSON.stringify(config("wrong")));
    const bad = await doctor(["--config", file, ...ports, "--json", "--listen-ms", "300"]);
    expect(step(bad.out, "broker reachable").status).toBe("pass");
    expect(step(bad.out, "credentials accepted")).toMatchObject({ status: "fail" });
    expect(step(bad.out, "credentials accepted").detail).toContain("refused");
    expect(bad.code).toBe(1);
  });

  it("times out gracefully on the confirmation when the MQTT 5 broker is not a FleetSync bridge", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const conf = join(tmp.dir, "mosquitto.conf");
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    const mosquitto = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    cleanups.push(async () => {
      if (mosquitto.exitCode !== null || mosquitto.signalCode !== null) return;
      const gone = new Promise((r) => mosquitto.once("exit", r));
      mosquitto.kill("SIGTERM");
      await gone;
    });
    await waitFor(
      () =>
        new Promise<boolean>((r) => {
          const s = createServer().listen(port, "127.0.0.1");
          s.once("error", () => r(true)); // port taken = mosquitto is listening
          s.once("listening", () => s.close(() => r(false)));
        }),
      "mosquitto listening",
    );
    const file = await writeConfig(tmp.dir, {
      truckId: "TRUCK-DOC-2",
      broker: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 5 },
      outbox: { dir: join(tmp.dir, "outbox") },
    });
    const began = Date.now();
    const { out } = await doctor([
      "--config",
      file,
      "--port",
      join(tmp.dir, "no-such-port"),
      "--json",
      "--confirm-ms",
      "1000",
      "--listen-ms",
      "100",
    ]);
    expect(step(out, "credentials accepted")).toMatchObject({ status: "pass" });
    expect(step(out, "credentials accepted").detail).toContain("MQTT 5");
    const test = step(out, "test record");
    expect(test.status).toBe("warn");
    expect(test.detail).toContain("not a FleetSync bridge");
    expect(Date.now() - began).toBeLessThan(20_000);
  });
});
