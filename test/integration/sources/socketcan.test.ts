/**
 * The SocketCAN source (`can.format: "socketcan"`) with the stand-ins of test/support/socketcan-standin: this
 * container's kernel cannot create a virtual CAN interface (`ip link add vcan0 type vcan` answers "Unknown device
 * type": no vcan module, no privilege to load one), so a stand-in `candump` replays a shared capture as `candump -L`
 * prints it and a stand-in `ip` reports the interface with iproute2's JSON layout. The source runs them as it runs
 * the real programs: as child processes found by name. Checks: the messages from the interface equal those from
 * the same frames through a serial SLCAN adapter on a pty; a non-listen-only interface is refused unless allowed on
 * purpose; candump is supervised (restarted with backoff, exits counted, its stderr surfaced); stop() while busy.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeSlcanLine, parseCandumpLine } from "../../../agent/decoders/can/index.ts";
import { createCanSource } from "../../../agent/sources/can/index.ts";
import { probeCanInterfaces } from "../../../agent/sources/probe/index.ts";
import type { CanMessage } from "../../../agent/sources/types.ts";
import { isFleetError } from "../../../common/errors.ts";
import type { Logger } from "../../../common/log.ts";
import { openPtyPeer } from "../../support/pty-peer.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty } from "./pty.ts";

const REPO = resolve(import.meta.dirname, "../../..");
const STANDIN = join(REPO, "test/support/socketcan-standin");
const FIXTURE = resolve(REPO, "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log");
const FRAMES = 3000;

let dir: string;
const stateFile = () => join(dir, "interfaces.json");
async function setInterfaces(interfaces: Array<Record<string, unknown>>): Promise<void> {
  await writeFile(stateFile(), JSON.stringify({ interfaces }));
}
const standins = { candumpPath: join(STANDIN, "candump"), ipPath: join(STANDIN, "ip") };

/** A message without its time: candump stamps the kernel's receive time, SLCAN lines carry none. */
const timeless = (m: CanMessage) => ({ ...m, ts: null });

function recordingLogger(lines: Array<Record<string, unknown>>): Logger {
  const logger = {
    child: () => logger,
    ...Object.fromEntries(
      ["trace", "debug", "info", "warn", "error", "fatal"].map((level) => [
        level,
        (fields: Record<string, unknown>, msg?: string) => lines.push({ level, msg, ...fields }),
      ]),
    ),
  };
  return logger as unknown as Logger;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fleetsync-socketcan-"));
  process.env.FLEETSYNC_STANDIN_STATE = stateFile();
  process.env.FLEETSYNC_STANDIN_FIXTURE = FIXTURE;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("SocketCAN source through candump -L (stand-ins)", () => {
  it("gives the same messages as the same frames through a serial SLCAN adapter", async () => {
    await setInterfaces([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
    process.env.FLEETSYNC_STANDIN_ONCE = "1";
    process.env.FLEETSYNC_STANDIN_FRAMES = String(FRAMES);
    const frames = (await readFile(FIXTURE, "utf8"))
      .split("\n")
      .map(parseCandumpLine)
      .flatMap((r) => (r.kind === "frame" ? [r.frame] : []))
      .slice(0, FRAMES);

    const fromInterface: CanMessage[] = [];
    const socket = createCanSource(
      { format: "socketcan", interface: "can0", ...standins },
      { onMessage: (m) => fromInterface.push(m) },
    );
    const fromSerial: CanMessage[] = [];
    const pty = await createPty();
    await pty.start();
    const adapter = await openPtyPeer(pty.feeder);
    const serial = createCanSource({ path: pty.device, format: "slcan" }, { onMessage: (m) => fromSerial.push(m) });
    try {
      await socket.start();
      await serial.start();
      // The adapter streams once opened listen-only, as a real one does.
      await waitFor(() => adapter.received().endsWith("L\r"), "the listen-only open");
      for (let i = 0; i < frames.length; i += 100) {
        await adapter.write(
          `${frames
            .slice(i, i + 100)
            .map(encodeSlcanLine)
            .join("\r")}\r`,
        );
      }
      await waitFor(
        () => socket.counters().frames === FRAMES && serial.counters().frames === FRAMES,
        `${FRAMES} frames on both paths`,
        { timeoutMs: 60_000 },
      ).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}: interface ${JSON.stringify(socket.counters())}, serial ${JSON.stringify(serial.counters())}`,
        );
      });
      expect(fromInterface.length).toBeGreaterThan(1000);
      expect(fromInterface.map(timeless)).toEqual(fromSerial.map(timeless));
      expect(socket.counters()).toMatchObject({ starts: 1, exits: 0, invalid: 0 });
      expect(socket.isOpen()).toBe(true);
    } finally {
      await socket.stop();
      await serial.stop();
      await adapter.close();
      await pty.dispose();
      delete process.env.FLEETSYNC_STANDIN_ONCE;
      delete process.env.FLEETSYNC_STANDIN_FRAMES;
    }
    expect(socket.isOpen()).toBe(false);
  });

  it("refuses to start on an interface that is not listen-only, and reads it only when allowed on purpose", async () => {
    await setInterfaces([{ name: "can0", up: true, listenOnly: false, bitrate: 250000 }]);
    const refused = createCanSource({ format: "socketcan", interface: "can0", ...standins }, { onMessage: () => {} });
    const error = await refused.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFleetError(error, "FLEET_CAN_NOT_LISTEN_ONLY")).toBe(true);
    expect((error as Error).message).toContain("ip link set can0 up type can bitrate 250000 listen-only on");
    expect(refused.counters()).toMatchObject({ starts: 0, refusedNotListenOnly: 1 });
    await refused.stop();

    let messages = 0;
    const allowed = createCanSource(
      { format: "socketcan", interface: "can0", allowActiveInterface: true, ...standins },
      { onMessage: () => messages++ },
    );
    try {
      await allowed.start();
      await waitFor(() => messages > 50, "messages from the allowed interface", { timeoutMs: 30_000 });
    } finally {
      await allowed.stop();
    }
  });

  it("restarts candump when it exits, with backoff, counting exits and logging its stderr; stop() while busy", async () => {
    await setInterfaces([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
    process.env.FLEETSYNC_STANDIN_EXIT_AFTER = "200";
    process.env.FLEETSYNC_STANDIN_LOG = join(dir, "starts.log");
    const logs: Array<Record<string, unknown>> = [];
    const source = createCanSource(
      { format: "socketcan", interface: "can0", reconnectMinMs: 50, reconnectMaxMs: 200, logRepeatMs: 0, ...standins },
      { onMessage: () => {}, logger: recordingLogger(logs) },
    );
    try {
      await source.start();
      await waitFor(() => (source.counters().exits ?? 0) >= 3, "three candump exits", { timeoutMs: 60_000 });
      const exit = logs.find((l) => l.msg === "candump exited; restarting");
      expect(exit).toMatchObject({ level: "warn", interface: "can0", code: 1, stderr: "read: Network is down" });
      const { starts, exits } = source.counters();
      expect(starts).toBeGreaterThanOrEqual(exits!);
      // Every exit the source counted was a candump the stand-in saw start.
      const started = (await readFile(join(dir, "starts.log"), "utf8")).trim().split("\n").length;
      expect(started).toBeGreaterThanOrEqual(exits!);
    } finally {
      await source.stop();
      delete process.env.FLEETSYNC_STANDIN_EXIT_AFTER;
      delete process.env.FLEETSYNC_STANDIN_LOG;
    }
    const after = source.counters().starts;
    expect(source.isOpen()).toBe(false);
    // Stopped means stopped: no restart after stop(). (Something that must not happen has no condition to wait
    // for: two whole backoff periods pass, then the count is the same.)
    await new Promise((r) => setTimeout(r, 400));
    expect(source.counters().starts).toBe(after);
  });

  it("waits for an interface that does not exist yet, and reads it once it appears", async () => {
    await setInterfaces([]);
    let messages = 0;
    const source = createCanSource(
      { format: "socketcan", interface: "can0", reconnectMinMs: 50, reconnectMaxMs: 100, ...standins },
      { onMessage: () => messages++ },
    );
    try {
      await source.start();
      await waitFor(() => (source.counters().interfaceMissing ?? 0) >= 2, "two checks of a missing interface");
      expect(source.isOpen()).toBe(false);
      await setInterfaces([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
      await waitFor(() => messages > 50, "messages once can0 exists", { timeoutMs: 30_000 });
    } finally {
      await source.stop();
    }
  });
});

describe("doctor's CAN interface probe (stand-ins)", () => {
  it("listens for its whole window even when candump is slow to start (a loaded machine)", async () => {
    await setInterfaces([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
    // candump that takes longer to start than the window lasts: before the window started at the first line, the
    // probe killed it before it said anything and reported a bus with traffic as silent (doctor-socketcan failed so
    // at load average 20, where the stand-in's node start took over a second).
    const slow = join(dir, "slow-candump");
    await writeFile(slow, `#!/bin/sh\nsleep 1\nexec "${standins.candumpPath}" "$@"\n`, { mode: 0o755 });
    const began = performance.now();
    const [probe] = await probeCanInterfaces({ listenMs: 300, candumpPath: slow, ipPath: standins.ipPath });
    expect(probe!.iface.name).toBe("can0");
    expect(probe!.error).toBeUndefined();
    expect(probe!.can?.frames).toBeGreaterThan(0);
    expect(probe!.can?.engineSpeedRpm).toEqual(expect.any(Number));
    expect(performance.now() - began).toBeGreaterThanOrEqual(1_300);
  });

  it("gives up on an interface that stays silent, within the start allowance and the window", async () => {
    await setInterfaces([{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }]);
    const silent = join(dir, "silent-candump");
    await writeFile(silent, `#!/bin/sh\nexec sleep 60\n`, { mode: 0o755 });
    const began = performance.now();
    const [probe] = await probeCanInterfaces({ listenMs: 300, candumpPath: silent, ipPath: standins.ipPath });
    expect(probe!.can).toBeUndefined();
    expect(probe!.error).toBeUndefined();
    expect(performance.now() - began).toBeLessThan(30_000);
  });
});
