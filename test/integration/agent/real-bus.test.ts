/**
 * Real trucks, through the agent as a process (issue 15): the simulator's devices on pseudo-terminals print what real
 * chips print (an ELM327 with J1939 header formatting at its default, a clone that ignores JHF0/CAF0, bus errors
 * marked <RX ERROR), and the bus carries several ECUs: the engine (SA 0, two active trouble codes), the instrument
 * cluster (SA 23, an odometer 7.5 km ahead of the engine's, an empty DM1) and the transmission (SA 3, an empty DM1).
 * What reaches the broker must be what a fleet expects on day one: one odometer that never goes back, one raise per
 * active code with its source address and no clears, GNSS time from the capture's date.
 */
import { createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventRecord, TelemetryRecord } from "../../../protocol/index.ts";
import { createDeviceFleet } from "../../../sim/devices/device-fleet.ts";
import { waitFor } from "../../support/wait.ts";
import { type AgentProcess, killAtCleanup, ptyPair, REPO, spawnAgent, waitStarted, writeConfig } from "./process.ts";
import { startBroker, tempDir } from "./support.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FAULTS = [
  { spn: 110, fmi: 0, oc: 1 },
  { spn: 100, fmi: 1, oc: 1 },
];
const START = Date.UTC(2026, 10, 30, 6, 0, 0);

const track = (agent: AgentProcess) => killAtCleanup(agent, cleanups);

describe("the agent on a real truck's bus (simulated as the chips print it)", () => {
  it.each([
    { truckId: "ELM-OBEYS", ignore: [] },
    { truckId: "ELM-CLONE", ignore: ["JHF0", "CAF0"] },
  ])("$truckId: one odometer source, DTCs per source address, no raise/clear pairs", async ({ truckId, ignore }) => {
    const dir = await mkdtemp(join(tmpdir(), "fleetsync-realbus-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const fleet = createDeviceFleet({
      dir,
      startTimeMs: START,
      trucks: [{ truckId, can: "elm327", ecus: "multi", faults: FAULTS, elm: { ignore, rxErrorEvery: 50 } }],
    });
    await fleet.start();
    cleanups.push(() => fleet.stop());
    const device = fleet.devices()[0]!;
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const file = await writeConfig(tmp.dir, {
      truckId,
      gps: { path: device.gps, baudRate: 115200 },
      can: { path: device.can, format: "elm327", baudRate: 115200, commandTimeoutMs: 1000 },
      broker: { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 4, reconnectMinMs: 50, reconnectMaxMs: 500 },
      outbox: { dir: `${tmp.dir}/outbox`, commitIntervalMs: 50 },
      sampler: { minIntervalMs: 0, movingPeriodMs: 1000, parkedPeriodMs: 1000 },
      metrics: { enabled: false },
    });
    const agent = track(spawnAgent(file, { logLevel: "info" }));
    await waitStarted(agent);
    // Records with the odometer for 8 s after the choice settled (sourceSettleMs 2 s), and the two codes raised.
    const withOdometer = () => broker.received.telemetry.filter((r) => r.engine?.totalDistanceKm != null);
    await waitFor(() => withOdometer().length >= 8 || undefined, "8 records with an odometer", { timeoutMs: 60_000 });
    const dtcEvents = () =>
      broker.received.events.filter((e): e is Extract<EventRecord, { type: "dtc" }> => e.type === "dtc");
    await waitFor(() => dtcEvents().length >= 2 || undefined, "the two codes raised", { timeoutMs: 30_000 });

    const odometer = withOdometer().map((r: TelemetryRecord) => r.engine!.totalDistanceKm!);
    for (let i = 1; i < odometer.length; i++) expect(odometer[i]!).toBeGreaterThanOrEqual(odometer[i - 1]!);
    // The engine's and the cluster's odometers are 7.5 km apart: records from one source stay well within that.
    expect(Math.max(...odometer) - Math.min(...odometer)).toBeLessThan(7.5);
    expect(broker.received.events.filter((e) => e.type === "source")).toEqual([]);

    const changes = dtcEvents().map((e) => `${e.change}:${e.dtc.j1939?.sa}:${e.dtc.j1939?.spn}/${e.dtc.j1939?.fmi}`);
    expect(changes.sort()).toEqual(["raised:0:100/1", "raised:0:110/0"]);
    const last = broker.received.telemetry.at(-1)!;
    expect(last.dtcs).toEqual([
      { sa: 0, spn: 100, fmi: 1, oc: 1 },
      { sa: 0, spn: 110, fmi: 0, oc: 1 },
    ]);
    for (const r of broker.received.telemetry) expect(Date.parse(r.ts)).toBeGreaterThanOrEqual(START);
    expect(broker.received.invalid).toBe(0);
  });

  it("the CSS heavy-truck capture replayed into a pty: a steady odometer, its four DM1 codes raised once each", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const can = await ptyPair(tmp.dir, "can");
    cleanups.push(() => can.close());
    const lines = readFileSync(
      join(REPO, "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log"),
      "utf8",
    )
      .split("\n")
      .filter((l) => l.includes(" can1 "));
    // About real time: the capture has ~450 frames/s; 40 lines every 20 ms is ~2000/s, a bus four times as busy.
    const out = createWriteStream(can.feed);
    let i = 0;
    const timer = setInterval(() => {
      let chunk = "";
      for (let k = 0; k < 40 && i < lines.length; k++) chunk += `${lines[i++]}\n`;
      out.write(chunk);
    }, 20);
    cleanups.push(async () => {
      clearInterval(timer);
      await new Promise<void>((r) => out.end(() => r()));
    });
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const file = await writeConfig(tmp.dir, {
      truckId: "CSS-1",
      can: { path: can.device, format: "candump" },
      broker: { url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 4, reconnectMinMs: 50, reconnectMaxMs: 500 },
      outbox: { dir: `${tmp.dir}/outbox`, commitIntervalMs: 50 },
      sampler: { minIntervalMs: 0, parkedPeriodMs: 1000, tickMs: 200 },
      metrics: { enabled: false },
    });
    const agent = track(spawnAgent(file, { logLevel: "info" }));
    await waitStarted(agent);
    const withOdometer = () => broker.received.telemetry.filter((r) => r.engine?.totalDistanceKm != null);
    await waitFor(() => withOdometer().length >= 6 || undefined, "6 records with an odometer", { timeoutMs: 60_000 });
    const dtc = () =>
      broker.received.events.filter((e): e is Extract<EventRecord, { type: "dtc" }> => e.type === "dtc");
    await waitFor(() => dtc().length >= 4 || undefined, "the four codes raised", { timeoutMs: 30_000 });
    expect(new Set(withOdometer().map((r) => r.engine!.totalDistanceKm))).toEqual(new Set([13832.875]));
    const changes = dtc().map((e) => `${e.change}:${e.dtc.j1939?.sa}:${e.dtc.j1939?.spn}/${e.dtc.j1939?.fmi}`);
    expect(changes.sort()).toEqual(["raised:0:3216/20", "raised:0:609/12", "raised:0:609/9", "raised:0:980/9"]);
    expect(broker.received.invalid).toBe(0);
  });
});
