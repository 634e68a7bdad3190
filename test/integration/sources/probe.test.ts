/**
 * probeSerialPort (for `doctor`) against a real pty: a GPS is recognised by listening alone; a silent SLCAN adapter
 * that does not answer the version question `V` either is recognised after the listen-only open.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeSlcanLine, parseCandumpLine } from "../../../agent/decoders/can/index.ts";
import { probeSerialPort } from "../../../agent/sources/probe/index.ts";
import { openPtyPeer } from "../../support/pty-peer.ts";
import { createPty, type Pty } from "./pty.ts";

const FIX = fileURLToPath(new URL("../../../../shared/fixtures/", import.meta.url));

describe("probeSerialPort over a pseudo-terminal", () => {
  let pty: Pty;
  beforeEach(async () => {
    pty = await createPty();
    await pty.start();
  });
  afterEach(async () => {
    await pty.dispose();
  });

  it("recognises a GPS: talkers, sentence types and the fix", async () => {
    const { port: feeder } = await openPtyPeer(pty.feeder);
    const log = readFileSync(`${FIX}nmea/gpsd/neo-m8n.log`, "latin1")
      .split("\n")
      .filter((l) => !l.startsWith("#"))
      .join("\n");
    const timer = setInterval(() => feeder.write(log), 100);
    try {
      const result = await probeSerialPort(pty.device, { baudRates: [9600], listenMs: 500, trySlcan: false });
      expect(result.kind).toBe("nmea");
      expect(result.nmea?.talkers).toEqual(["GL", "GN", "GP"]);
      expect(result.nmea?.sentenceTypes).toEqual(expect.arrayContaining(["GGA", "RMC", "GSA", "GSV"]));
      expect(result.nmea?.fix?.fix).toBe("3d");
    } finally {
      clearInterval(timer);
      await new Promise((r) => feeder.close(() => r(undefined)));
    }
  });

  it("recognises an SLCAN adapter that answers no question after the listen-only open, sending nothing else", async () => {
    const { port: feeder } = await openPtyPeer(pty.feeder);
    const frames = readFileSync(`${FIX}can/css-electronics/j1939_truck_11111111_00000001.candump.log`, "utf8")
      .split("\n")
      .slice(0, 2000)
      .map(parseCandumpLine)
      .flatMap((r) => (r.kind === "frame" ? [encodeSlcanLine(r.frame)] : []));
    let received = "";
    let streaming: NodeJS.Timeout | undefined;
    feeder.on("data", (c: Buffer) => {
      received += c.toString("latin1");
      // A real adapter sends frames only once opened (listen-only "L").
      if (received.endsWith("L\r") && !streaming) {
        streaming = setInterval(() => feeder.write(`${frames.join("\r")}\r`), 100);
      }
    });
    try {
      const result = await probeSerialPort(pty.device, {
        baudRates: [115200],
        listenMs: 500,
        replyMs: 300,
        canBitrate: 250_000,
      });
      expect(result.kind).toBe("can");
      expect(result.can?.format).toBe("slcan");
      expect(result.can?.engineSpeedRpm).toBeGreaterThan(640);
      expect(result.can?.engineSpeedRpm).toBeLessThan(660);
      expect(result.can?.framesPerSec).toBeGreaterThan(0);
      // The version question at each speed adapters use (unanswered here), then the listen-only open.
      expect(received).toBe(`${"V\r".repeat(5)}C\rS5\rL\r`);
    } finally {
      clearInterval(streaming);
      await new Promise((r) => feeder.close(() => r(undefined)));
    }
  });

  it("lists which source addresses send which decoded PGN (several ECUs on one bus)", async () => {
    const { port: feeder } = await openPtyPeer(pty.feeder);
    // The real truck capture (engine SA 0 only), plus what a second ECU adds on many trucks: the instrument
    // cluster (SA 23) sending VD with its own odometer and an empty DM1, as candump lines.
    const lines = readFileSync(`${FIX}can/css-electronics/j1939_truck_11111111_00000001.candump.log`, "utf8")
      .split("\n")
      .filter((l) => l.includes(" can1 "))
      .slice(0, 2000);
    for (let i = 0; i < lines.length; i += 100) {
      lines.splice(
        i,
        0,
        "(1635188455.100000) can1 18FEE017#FFFFFFFF40420F00",
        "(1635188455.100000) can1 18FECA17#00FF00000000FFFF",
      );
    }
    const timer = setInterval(() => feeder.write(`${lines.join("\n")}\n`), 100);
    try {
      const result = await probeSerialPort(pty.device, { baudRates: [115200], listenMs: 500, trySlcan: false });
      expect(result.can?.format).toBe("candump");
      expect(result.can?.sources).toMatchObject({ EEC1: [0], VD: [0, 23], DM1: [0, 23] });
    } finally {
      clearInterval(timer);
      await new Promise((r) => feeder.close(() => r(undefined)));
    }
  });
});
