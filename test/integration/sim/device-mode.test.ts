/**
 * Device mode over real pseudo-terminals (socat): the agent side opens the devices with serialport, as the agent
 * does, sends the SLCAN or ELM327 init, and reads frames; the GPS device streams NMEA. Also: O is refused, and a
 * device can be unplugged (its path disappears) and plugged back.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanDecoder, elmInitCommands, slcanInitCommands } from "../../../agent/decoders/index.ts";
import { createDeviceFleet, type DeviceFleet } from "../../../sim/devices/device-fleet.ts";
import { nmeaChecksum } from "../../../sim/nmea/writer.ts";
import { openPtyPeer, type PtyPeer } from "../../support/pty-peer.ts";
import { waitFor } from "../../support/wait.ts";

describe("sim device mode (real ptys)", () => {
  let dir: string;
  let fleet: DeviceFleet;
  const opened: PtyPeer[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-sim-"));
    fleet = createDeviceFleet({
      dir,
      trucks: [
        {
          truckId: "slcan-1",
          can: "slcan",
          nmeaHz: 5,
          faults: [
            { spn: 110, fmi: 0, oc: 1 },
            { spn: 100, fmi: 1, oc: 1 },
          ],
        },
        { truckId: "elm-1", can: "elm327" },
      ],
    });
    await fleet.start();
  });

  afterAll(async () => {
    for (const o of opened) await o.close();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists one GPS and one CAN device per truck at paths that exist", () => {
    expect(fleet.devices()).toEqual([
      { truckId: "slcan-1", gps: join(dir, "slcan-1.gps"), can: join(dir, "slcan-1.can"), canProtocol: "slcan" },
      { truckId: "elm-1", gps: join(dir, "elm-1.gps"), can: join(dir, "elm-1.can"), canProtocol: "elm327" },
    ]);
    for (const d of fleet.devices()) for (const p of [d.gps!, d.can!]) expect(existsSync(p)).toBe(true);
  });

  it("answers the agent's SLCAN init with CR and then streams J1939 frames the agent decodes, DM1 over BAM", async () => {
    const can = await openPtyPeer(join(dir, "slcan-1.can"));
    opened.push(can);
    can.port.write(slcanInitCommands(250_000).join(""));
    await waitFor(() => can.received().split("\r").length > 300, "300 SLCAN lines", { timeoutMs: 10_000 });
    expect(can.received().startsWith("\r\r\r")).toBe(true);
    const decoder = createCanDecoder("slcan");
    const names = new Set<string>();
    let dtcs: unknown;
    let consumed = 3; // the three init replies
    await waitFor(
      () => {
        const lines = can.received().split("\r").slice(0, -1); // the last piece may be a partial line
        for (const line of lines.slice(consumed)) {
          const m = decoder.feed(line);
          if (m?.kind === "j1939") names.add(m.name);
          if (m?.kind === "j1939" && m.name === "DM1") dtcs = m.signals.dtcs;
        }
        consumed = Math.max(consumed, lines.length);
        return dtcs !== undefined;
      },
      "a multi-packet DM1",
      { timeoutMs: 5_000 },
    );
    expect(names).toContain("EEC1");
    expect(names).toContain("CCVS1");
    expect(dtcs).toEqual([
      { spn: 110, fmi: 0, oc: 1 },
      { spn: 100, fmi: 1, oc: 1 },
    ]);
    expect(decoder.counters().invalid).toBe(0);
    const status = fleet.stats()[0]!.adapter as { state: string; activeOpenRefused: number };
    expect(status).toMatchObject({ state: "listen", activeOpenRefused: 0 });
  });

  it("streams NMEA with valid checksums on the GPS device at the configured rate", async () => {
    const gps = await openPtyPeer(join(dir, "slcan-1.gps"));
    opened.push(gps);
    await waitFor(
      () =>
        gps
          .received()
          .split("\r\n")
          .filter((l) => l.includes("GGA")).length >= 6,
      "6 GGA sentences",
      {
        timeoutMs: 10_000,
      },
    );
    const lines = gps.received().split("\r\n").slice(1, -1); // the first may be cut: opened mid-stream
    for (const line of lines) {
      const [body, sum] = line.slice(1).split("*");
      expect(nmeaChecksum(body!)).toBe(sum);
    }
    const times = lines.filter((l) => l.includes("GGA")).map((l) => Number(l.split(",")[1]!.slice(4)));
    for (let i = 1; i < times.length; i++) expect(((times[i]! - times[i - 1]! + 60) % 60).toFixed(2)).toBe("0.20");
  });

  it("answers the agent's ELM327 init and monitors after AT MA", async () => {
    const can = await openPtyPeer(join(dir, "elm-1.can"));
    opened.push(can);
    can.port.write(elmInitCommands("A").join(""));
    await waitFor(() => can.received().split("\r").length > 200, "monitor lines", { timeoutMs: 10_000 });
    expect(can.received()).toContain("ELM327 v1.5");
    const decoder = createCanDecoder("elm327");
    const messages = can
      .received()
      .split("\r")
      .map((l) => decoder.feed(l))
      .filter((m) => m?.kind === "j1939");
    expect(messages.length).toBeGreaterThan(150);
  });

  it("refuses O on a fresh adapter: no frames for an agent that would join the bus", async () => {
    await fleet.unplug("slcan-1", "can");
    expect(existsSync(join(dir, "slcan-1.can"))).toBe(false);
    await fleet.replug("slcan-1", "can");
    const can = await openPtyPeer(join(dir, "slcan-1.can"));
    opened.push(can);
    can.port.write("C\rS5\rO\r");
    await waitFor(() => can.received().length >= 3, "three replies", { timeoutMs: 5_000 });
    // Give the sim several write cycles in which it would have streamed, then check nothing came.
    const before = fleet.stats()[0]!.canFrames;
    await waitFor(() => fleet.stats()[0]!.canFrames > before + 100, "100 more simulated frames", { timeoutMs: 5_000 });
    expect(can.received()).toBe("\r\r\x07");
    expect(fleet.stats()[0]!.adapter).toMatchObject({ state: "closed", activeOpenRefused: 1 });
  });
});
