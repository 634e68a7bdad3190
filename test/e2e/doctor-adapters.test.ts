/**
 * An installer's pass with each kind of serial CAN adapter the simulator has, as issue 22 found it failing for the
 * ELM327: `fleetsync sim devices` (here in-process: an ELM327 clone at 38400 baud, an STN chip at 115200, an SLCAN
 * adapter), `fleetsync provision` with what doctor found, then `fleetsync doctor` against the bridge process and
 * Kafka: every check passes, down to the test record written to Kafka. The doctor lines are printed (the closing
 * note of issue 22 quotes them).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeviceFleet, type DeviceFleet } from "../../sim/devices/device-fleet.ts";
import { runFleetsync } from "../support/cli.ts";
import { spawnBridge, type BridgeProcess, writeBridgeFiles } from "./bridge.ts";
import { type E2eKafka, runTopics, startKafka } from "./kafka.ts";

const TRUCKS = [
  { truckId: "DOC-ELM", can: "elm327" as const, canBaudRate: 38400, chip: "elm327" as const, format: "elm327" },
  { truckId: "DOC-STN", can: "elm327" as const, canBaudRate: 115200, chip: "stn" as const, format: "elm327" },
  { truckId: "DOC-SLCAN", can: "slcan" as const, canBaudRate: undefined, chip: "elm327" as const, format: "slcan" },
];

describe("fleetsync doctor with the simulator's serial CAN adapters, the bridge and Kafka", () => {
  let dir: string;
  let fleet: DeviceFleet;
  let kafka: E2eKafka;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-doctor-"));
    kafka = await startKafka();
    const files = await writeBridgeFiles({
      dir,
      brokers: kafka.brokers,
      topics: runTopics("doctor"),
      trucks: Object.fromEntries(TRUCKS.map((t) => [t.truckId, `pw-${t.truckId}`])),
    });
    bridge = await spawnBridge(files.configFile);
    fleet = createDeviceFleet({
      dir: join(dir, "dev"),
      trucks: TRUCKS.map((t) => ({
        truckId: t.truckId,
        can: t.can,
        ...(t.canBaudRate === undefined ? {} : { canBaudRate: t.canBaudRate }),
        elm: { chip: t.chip, rxErrorEvery: 0 },
      })),
    });
    await fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    await bridge?.stop();
    await kafka?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a mixed fleet's ports all at once, no configuration: every GPS and every CAN adapter found, at its speed", async () => {
    const ports = TRUCKS.flatMap((t) => [join(dir, "dev", `${t.truckId}.can`), join(dir, "dev", `${t.truckId}.gps`)]);
    const run = await runFleetsync(["doctor", ...ports.flatMap((p) => ["--port", p]), "--json", "--listen-ms", "1200"]);
    const found = (
      JSON.parse(run.stdout) as {
        steps: Array<{ step: string; data?: { ports?: Array<{ path: string; kind: string; baudRate: number }> } }>;
      }
    ).steps.find((s) => s.step === "serial ports")!.data!.ports!;
    for (const t of TRUCKS) {
      expect(found.find((p) => p.path.endsWith(`${t.truckId}.gps`))).toMatchObject({ kind: "nmea" });
      const can = found.find((p) => p.path.endsWith(`${t.truckId}.can`));
      expect(can, t.truckId).toMatchObject({ kind: "can" });
      if (t.canBaudRate !== undefined) expect(can!.baudRate).toBe(t.canBaudRate);
    }
  });

  // The three installers' passes at once: each truck has its own ports, outbox and credentials, and a pass spends
  // its ~15 s waiting out listening windows and answers, not computing (one after another they took 45 s).
  for (const t of TRUCKS) {
    it.concurrent(
      `${t.truckId}: doctor finds the ${t.chip === "stn" ? "STN" : t.can} adapter, provision writes it, every check passes`,
      async ({ expect }) => {
        const gps = join(dir, "dev", `${t.truckId}.gps`);
        const can = join(dir, "dev", `${t.truckId}.can`);
        // First pass, no configuration: which port is which, at which speed.
        const found = await runFleetsync(["doctor", "--port", can, "--port", gps, "--json", "--listen-ms", "1200"]);
        const ports = (
          JSON.parse(found.stdout) as {
            steps: Array<{ step: string; data?: { path?: string; baudRate?: number; format?: string } }>;
          }
        ).steps.find((s) => s.step === "CAN port")!.data!;
        expect(ports).toMatchObject({ path: can, format: t.format });
        if (t.canBaudRate !== undefined) expect(ports.baudRate).toBe(t.canBaudRate);

        const config = join(dir, `${t.truckId}.json`);
        const provision = await runFleetsync([
          "provision",
          "--truck-id",
          t.truckId,
          "--broker",
          `mqtt://127.0.0.1:${bridge.port}`,
          "--password",
          `pw-${t.truckId}`,
          "--gps",
          gps,
          "--can",
          can,
          "--can-format",
          ports.format!,
          "--can-baud",
          String(ports.baudRate),
          "--data-dir",
          join(dir, `${t.truckId}-outbox`),
          "--out",
          config,
        ]);
        expect(provision.code, provision.stderr).toBe(0);

        const run = await runFleetsync([
          "doctor",
          "--config",
          config,
          "--port",
          can,
          "--port",
          gps,
          "--listen-ms",
          "1200",
        ]);
        process.stdout.write(`\n$ fleetsync doctor (${t.truckId})\n${run.stdout}`);
        expect(run.stdout).not.toMatch(/^FAIL/m);
        expect(run.stdout).toMatch(/^PASS {2}CAN port +.*(ELM327 v1\.5|STN1100 v1\.2\.3|SLCAN adapter V1013)/m);
        expect(run.stdout).toMatch(/^PASS {2}test record +written to Kafka e2e\.doctor\.telemetry\.\S+ partition \d+/m);
        expect(run.code).toBe(0);
        const stats = fleet.stats().find((s) => s.truckId === t.truckId)!.adapter as Record<string, number>;
        expect(stats.transmitRefused).toBe(0);
      },
    );
  }
});
