import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadAgentConfig } from "../agent/config.ts";
import { main } from "./main.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fleetsync-provision-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((c) => out.push(String(c)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((c) => err.push(String(c)) > 0);
  return { out: () => out.join(""), err: () => err.join("") };
}

describe("fleetsync provision", () => {
  it("writes a config the agent loads, private to its owner", async () => {
    const out = join(dir, "agent.json");
    const ca = join(dir, "ca.pem");
    await writeFile(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    capture();
    const code = await main([
      "provision",
      "--truck-id",
      "TRK-0042",
      "--broker",
      "mqtts://fleet.example.com:8883",
      "--password",
      "s3cret",
      "--ca",
      ca,
      "--gps",
      "/dev/ttyACM0",
      "--can",
      "/dev/ttyUSB0",
      "--can-format",
      "slcan",
      "--data-dir",
      join(dir, "ob"),
      "--out",
      out,
    ]);
    expect(code).toBe(0);
    const config = await loadAgentConfig(out);
    expect(config).toMatchObject({
      truckId: "TRK-0042",
      broker: { url: "mqtts://fleet.example.com:8883", password: "s3cret", caFile: ca, protocolVersion: 5 },
      gps: { path: "/dev/ttyACM0", baudRate: 9600 },
      can: { path: "/dev/ttyUSB0", format: "slcan", bitrate: 250000 },
    });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it("writes a SocketCAN interface with --can-interface (listen-only required unless --can-allow-active)", async () => {
    const out = join(dir, "agent.json");
    const io = capture();
    const base = ["provision", "--truck-id", "TRK-HAT", "--broker", "mqtts://fleet.example.com:8883"];
    const rest = ["--data-dir", join(dir, "ob"), "--out", out];
    expect(await main([...base, "--can-interface", "can0", "--can-bitrate", "500000", ...rest])).toBe(0);
    const config = await loadAgentConfig(out);
    expect(config.can).toMatchObject({ format: "socketcan", interface: "can0", bitrate: 500000 });
    expect(config.can?.allowActiveInterface).toBe(false);
    expect(config.can?.path).toBeUndefined();
    expect(io.out()).toContain("CAN interface can0 (SocketCAN)");
    expect(await main([...base, "--can-interface", "can0", "--can-allow-active", ...rest, "--force"])).toBe(0);
    expect((await loadAgentConfig(out)).can?.allowActiveInterface).toBe(true);
    // A serial path and an interface at once is a mistake, named as such; so is a bad interface name.
    expect(await main([...base, "--can-interface", "can0", "--can", "/dev/ttyUSB0", ...rest])).toBe(2);
    expect(io.err()).toContain("--can-interface reads a SocketCAN interface");
    expect(await main([...base, "--can-interface", "can 0; rm", ...rest, "--force"])).toBe(2);
    expect(io.err()).toMatch(/--can-interface "can 0; rm"/);
  });

  it("warns about a port that does not exist or is not a device, and still writes the file", async () => {
    const out = join(dir, "agent.json");
    const io = capture();
    const code = await main([
      "provision",
      "--truck-id",
      "TRK-0043",
      "--broker",
      "mqtts://fleet.example.com:8883",
      "--password",
      "s3cret",
      "--gps",
      "/dev/nonexistent-gps",
      "--can",
      out.replace("agent.json", ""),
      "--out",
      out,
    ]);
    expect(code).toBe(0);
    expect(io.err()).toContain("warning: --gps /dev/nonexistent-gps does not exist now");
    expect(io.err()).toContain("is not a serial device");
    expect((await loadAgentConfig(out)).gps?.path).toBe("/dev/nonexistent-gps");
  });

  it("refuses an invalid truck id, naming the flag, and writes nothing", async () => {
    const io = capture();
    const out = join(dir, "agent.json");
    expect(await main(["provision", "--truck-id", "truck 7!", "--broker", "mqtt://h:1883", "--out", out])).toBe(2);
    expect(io.err()).toContain('--truck-id "truck 7!"');
    await expect(stat(out)).rejects.toThrow();
  });

  it("refuses a broker URL that is not mqtt(s)://, a CA that is not PEM, and an existing file without --force", async () => {
    const io = capture();
    const out = join(dir, "agent.json");
    expect(await main(["provision", "--truck-id", "T1", "--broker", "http://h", "--out", out])).toBe(2);
    expect(io.err()).toContain("--broker");
    const ca = join(dir, "ca.txt");
    await writeFile(ca, "hello");
    expect(await main(["provision", "--truck-id", "T1", "--broker", "mqtt://h:1", "--ca", ca, "--out", out])).toBe(2);
    expect(io.err()).toContain("not a PEM certificate");
    await writeFile(out, "{}");
    expect(
      await main(["provision", "--truck-id", "T1", "--broker", "mqtt://h:1", "--gps", "/dev/x", "--out", out]),
    ).toBe(2);
    expect(io.err()).toContain("--force");
  });
});
