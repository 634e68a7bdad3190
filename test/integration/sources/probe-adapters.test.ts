/**
 * probeSerialPort (for `doctor`) against the simulator's CAN adapters on real ptys: an ELM327 at each speed such
 * adapters use, an STN chip, an SLCAN adapter, and a port that answers nothing. The simulator records every byte the
 * probe wrote to each adapter, with the speed the probe's port was set to (read from the pty's termios), and an
 * adapter with a UART speed understands nothing written at another speed (sim/devices/device-fleet.ts): so these
 * tests see both that the probe finds the speed and exactly which bytes reached each adapter, none of them one that
 * transmits on the bus (design promise 5).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { elmInitCommands, slcanInitCommands } from "../../../agent/decoders/index.ts";
import {
  ADAPTER_BAUD_RATES,
  ELM_IDENTITY_QUERIES,
  ELM_IDLE,
  SLCAN_CLOSE,
  probeSerialPort,
  SLCAN_SERIAL_QUERY,
  SLCAN_VERSION_QUERY,
  STN_DEVICE_QUERY,
} from "../../../agent/sources/probe/index.ts";
import { createDeviceFleet, type DeviceFleet, type ReceivedChunk } from "../../../sim/devices/device-fleet.ts";
import type { ElmStatus } from "../../../sim/devices/elm327-adapter.ts";
import type { SlcanStatus } from "../../../sim/devices/slcan-adapter.ts";
import { openPtyPeer } from "../../support/pty-peer.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty } from "./pty.ts";

const PROBE = { baudRates: [9600], listenMs: 600, replyMs: 1500, canBitrate: 250_000 };
const ELM_EXPECTED = [SLCAN_VERSION_QUERY, ...ELM_IDENTITY_QUERIES, ...elmInitCommands("A"), ELM_IDLE].join("");

/** Every command in the bytes an ELM327 received, checked against what could reach the bus. */
function elmTransmitting(text: string): string[] {
  return text
    .split("\r")
    .slice(0, -1)
    .filter((c) => {
      const cmd = c.replace(/\s+/g, "").toUpperCase();
      // A hex line is an OBD request (sent on the bus); a lone CR repeats the previous command; AT MA is fine only
      // after a fixed protocol (checked separately); anything else starts with AT or ST.
      return cmd === "" || /^[0-9A-F]+$/.test(cmd) || !/^(AT|ST|V$|N$)/.test(cmd);
    });
}

function slcanTransmitting(text: string): string[] {
  return text
    .split("\r")
    .slice(0, -1)
    .filter((c) => /^[tTrRO]/.test(c));
}

describe("probeSerialPort asks adapters that only answer when asked (simulated chips on ptys)", () => {
  let dir: string;
  let fleet: DeviceFleet;
  const elmTrucks = ADAPTER_BAUD_RATES.map((baud) => ({ truckId: `elm-${baud}`, baud }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-probe-"));
    fleet = createDeviceFleet({
      dir,
      trucks: [
        ...elmTrucks.map((t) => ({
          truckId: t.truckId,
          can: "elm327" as const,
          gps: false,
          canBaudRate: t.baud,
          elm: { rxErrorEvery: 0 },
        })),
        { truckId: "stn", can: "elm327", gps: false, canBaudRate: 115200, elm: { chip: "stn", rxErrorEvery: 0 } },
        { truckId: "slcan", can: "slcan", gps: false },
      ],
    });
    await fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const adapterStatus = (truckId: string) => fleet.stats().find((s) => s.truckId === truckId)!.adapter;

  it("finds an ELM327 at each speed it may be set to, names the chip, and sees its traffic", async () => {
    const results = await Promise.all(elmTrucks.map((t) => probeSerialPort(join(dir, `${t.truckId}.can`), PROBE)));
    for (const [i, t] of elmTrucks.entries()) {
      const r = results[i]!;
      expect(r, `${t.truckId}: ${JSON.stringify({ ...r, lines: undefined })}`).toMatchObject({
        kind: "can",
        baudRate: t.baud,
        adapter: { kind: "elm327", version: "ELM327 v1.5", description: "OBDII to RS232 Interpreter" },
        can: { format: "elm327" },
      });
      expect(r.can!.framesPerSec).toBeGreaterThan(0);
      expect(r.asked).toEqual(ADAPTER_BAUD_RATES.slice(0, ADAPTER_BAUD_RATES.indexOf(t.baud) + 1));
      // At every wrong speed only `V` CR was written (and not understood); at the right one, exactly the documented
      // questions and the agent's monitor init.
      const received: ReceivedChunk[] = fleet.received(t.truckId, "can");
      expect(received).toEqual([
        ...ADAPTER_BAUD_RATES.slice(0, ADAPTER_BAUD_RATES.indexOf(t.baud)).map((baudRate) => ({
          baudRate,
          text: SLCAN_VERSION_QUERY,
        })),
        { baudRate: t.baud, text: ELM_EXPECTED },
      ]);
      expect(elmTransmitting(received.map((c) => c.text).join(""))).toEqual([]);
      expect(adapterStatus(t.truckId) as ElmStatus).toMatchObject({
        transmitRefused: 0,
        repeats: 0,
        // Left idle, as found: the AT Z that ended the conversation stopped monitoring.
        monitoring: false,
        framesShown: expect.any(Number),
      });
    }
  });

  it("names an STN chip by its firmware and device, and asks ST DI only of it", async () => {
    const r = await probeSerialPort(join(dir, "stn.can"), PROBE);
    expect(r).toMatchObject({
      kind: "can",
      baudRate: 115200,
      adapter: { kind: "stn", version: "STN1100 v1.2.3", description: "OBDLink r1.7", elmVersion: "ELM327 v1.3a" },
    });
    const text = fleet
      .received("stn", "can")
      .map((c) => c.text)
      .join("");
    expect(text).toBe(
      `${SLCAN_VERSION_QUERY.repeat(2)}${[SLCAN_VERSION_QUERY, ...ELM_IDENTITY_QUERIES, STN_DEVICE_QUERY, ...elmInitCommands("A"), ELM_IDLE].join("")}`,
    );
    expect(elmTransmitting(text)).toEqual([]);
    expect(adapterStatus("stn") as ElmStatus).toMatchObject({ transmitRefused: 0, repeats: 0 });
  });

  it("finds an SLCAN adapter by its version and serial number, and opens it listen-only", async () => {
    const r = await probeSerialPort(join(dir, "slcan.can"), PROBE);
    expect(r).toMatchObject({
      kind: "can",
      baudRate: ADAPTER_BAUD_RATES[0],
      adapter: { kind: "slcan", version: "V1013", serial: "SIM1" },
      can: { format: "slcan" },
    });
    const received = () =>
      fleet
        .received("slcan", "can")
        .map((c) => c.text)
        .join("");
    // The closing C has left when the probe returns, but reaches the device a moment later.
    await waitFor(() => received().endsWith(SLCAN_CLOSE), "the closing C at the adapter");
    const text = received();
    expect(text).toBe([SLCAN_VERSION_QUERY, SLCAN_SERIAL_QUERY, ...slcanInitCommands(250_000), SLCAN_CLOSE].join(""));
    expect(slcanTransmitting(text)).toEqual([]);
    expect(adapterStatus("slcan") as SlcanStatus).toMatchObject({
      state: "closed",
      activeOpenRefused: 0,
      transmitRefused: 0,
    });
  });
});

describe("probeSerialPort on a port that answers nothing", () => {
  it("reports it as silent after asking at every speed, and wrote only the documented questions", async () => {
    const pty = await createPty();
    await pty.start();
    const peer = await openPtyPeer(pty.feeder);
    try {
      const r = await probeSerialPort(pty.device, { ...PROBE, replyMs: 300, listenMs: 300 });
      expect(r).toMatchObject({ kind: "nothing", baudRate: null, asked: ADAPTER_BAUD_RATES });
      expect(r.adapter).toBeUndefined();
      // Five `V` questions, then the bare SLCAN listen-only open for adapters that do not answer `V`.
      expect(peer.received()).toBe(SLCAN_VERSION_QUERY.repeat(5) + slcanInitCommands(250_000).join(""));
    } finally {
      await peer.close();
      await pty.dispose();
    }
  });
});
