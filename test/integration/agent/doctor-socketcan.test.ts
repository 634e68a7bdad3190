/**
 * `fleetsync doctor` with a SocketCAN interface, through the stand-in `candump` and `ip` on PATH
 * (test/support/socketcan-standin: this container's kernel cannot create vcan0). The interface is listed with state,
 * bitrate, listen-only flag and frames/s; a configured one is checked (present, up, listen-only) with the command
 * that fixes it; with no configuration, an interface that carries frames is offered to provision.
 */
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runFleetsync } from "../../support/cli.ts";
import { createPty } from "../sources/pty.ts";
import { REPO } from "./process.ts";
import { tempDir } from "./support.ts";

const STANDIN = join(REPO, "test/support/socketcan-standin");
const FIXTURE = resolve(REPO, "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Step {
  step: string;
  status: string;
  detail: string;
}

async function doctor(dir: string, args: string[]): Promise<{ code: number | null; text: string; steps: Step[] }> {
  const env = {
    ...process.env,
    PATH: `${STANDIN}:${process.env.PATH}`,
    FLEETSYNC_STANDIN_STATE: join(dir, "interfaces.json"),
    FLEETSYNC_STANDIN_FIXTURE: FIXTURE,
  };
  // A silent pty as the only serial port, so doctor probes nothing of this machine's own: one per run, so the JSON
  // run (asserted) and the text run (printed) go at once (a port is opened exclusively). Each spends ~6 s asking the
  // silent port at five baud rates; one after the other they made this file take 51 s.
  const run = async (json: boolean) => {
    const pty = await createPty();
    await pty.start();
    cleanups.push(() => pty.dispose());
    const common = ["doctor", "--port", pty.device, "--listen-ms", "1000", "--reply-ms", "200", "--timeout-ms", "500"];
    return runFleetsync([...common, ...(json ? ["--json"] : []), ...args], env);
  };
  const [json, text] = await Promise.all([run(true), run(false)]);
  process.stdout.write(`\n$ fleetsync doctor ${args.join(" ")}\n${text.stdout}`);
  return { code: json.code, text: text.stdout, steps: (JSON.parse(json.stdout) as { steps: Step[] }).steps };
}

const step = (steps: Step[], name: string) => steps.find((s) => s.step === name)!;

async function setup(interfaces: Array<Record<string, unknown>>, can?: Record<string, unknown>) {
  const tmp = await tempDir("fleetsync-doctor-socketcan-");
  cleanups.push(tmp.cleanup);
  await writeFile(join(tmp.dir, "interfaces.json"), JSON.stringify({ interfaces }));
  if (!can) return { dir: tmp.dir, args: [] };
  const config = join(tmp.dir, "agent.json");
  await writeFile(
    config,
    JSON.stringify({
      truckId: "TRUCK-HAT",
      can,
      broker: { url: "mqtt://127.0.0.1:9", protocolVersion: 4 },
      outbox: { dir: join(tmp.dir, "outbox") },
      metrics: { enabled: false },
    }),
  );
  return { dir: tmp.dir, args: ["--config", config] };
}

describe("fleetsync doctor with a SocketCAN interface (stand-in candump and ip)", () => {
  it("lists the interface and passes the CAN checks for a listen-only can0 with traffic", async () => {
    const { dir, args } = await setup(
      [
        { name: "can0", up: true, listenOnly: true, bitrate: 250000 },
        { name: "can1", up: false, listenOnly: false, bitrate: 500000 },
      ],
      { format: "socketcan", interface: "can0" },
    );
    const { steps } = await doctor(dir, args);
    expect(step(steps, "CAN interfaces")).toMatchObject({ status: "pass" });
    expect(step(steps, "CAN interfaces").detail).toMatch(
      /^can0: up, ERROR-ACTIVE, 250 kbit\/s, listen-only, \d+ frames\/s; can1: DOWN, ERROR-ACTIVE, 500 kbit\/s, NOT listen-only$/,
    );
    expect(step(steps, "CAN port")).toMatchObject({ status: "pass" });
    expect(step(steps, "CAN port").detail).toContain("can0 (SocketCAN can, ERROR-ACTIVE, listen-only)");
    expect(step(steps, "CAN traffic").status).toBe("pass");
    expect(step(steps, "CAN traffic").detail).toMatch(/frames\/s at 250 kbit\/s, \d+ J1939 PGNs, engine speed \d+ rpm/);
  });

  it("fails a configured interface that is not listen-only, or down, with the command that fixes it", async () => {
    const notListenOnly = await setup([{ name: "can0", up: true, listenOnly: false, bitrate: 250000 }], {
      format: "socketcan",
      interface: "can0",
    });
    const down = await setup([{ name: "can0", up: false, listenOnly: true, bitrate: 250000 }], {
      format: "socketcan",
      interface: "can0",
    });
    // Both at once: each doctor run waits out its listening windows, not the processor.
    const [a, b] = await Promise.all([doctor(notListenOnly.dir, notListenOnly.args), doctor(down.dir, down.args)]);
    expect(step(a.steps, "CAN port")).toMatchObject({ status: "fail" });
    expect(step(a.steps, "CAN port").detail).toContain(
      "can0 is not listen-only: its controller would acknowledge frames on the vehicle bus, and the agent refuses it. Fix: sudo ip link set can0 down && sudo ip link set can0 up type can bitrate 250000 listen-only on",
    );
    expect(a.code).toBe(1);

    expect(step(b.steps, "CAN port").detail).toMatch(/^can0 is down\. Fix: sudo ip link set can0 down/);
  });

  it("without a configuration, offers an interface that carries frames to provision", async () => {
    const { dir, args } = await setup([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
    const { steps } = await doctor(dir, args);
    expect(step(steps, "CAN port")).toMatchObject({ status: "pass" });
    expect(step(steps, "CAN port").detail).toContain("run provision with --can-interface can0");
    expect(step(steps, "serial ports").detail).toMatch(/silent \(no answer to ELM327\/STN or SLCAN questions/);
  });
});
