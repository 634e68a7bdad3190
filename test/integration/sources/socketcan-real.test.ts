/**
 * The SocketCAN source against the real programs where this machine allows: iproute2's `ip` (its JSON for the
 * machine's links, and its error for a missing device) and can-utils' `candump` (installed by .ci/run; the .deb
 * depends on it). This container's kernel has no CAN at all, so the real candump fails at once ("socket: Address
 * family not supported by protocol"; on a kernel with CAN and no can0, "SIOCGIFINDEX: No such device"): the source
 * must surface that, count the exit and try again, as it would on a Pi whose HAT overlay failed to load.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listCanInterfaces, readCanInterface } from "../../../agent/sources/can/interfaces.ts";
import { createCanSource } from "../../../agent/sources/can/index.ts";
import type { Logger } from "../../../common/log.ts";
import { waitFor } from "../../support/wait.ts";

const STANDIN = resolve(import.meta.dirname, "../../support/socketcan-standin");

function which(program: string): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      `${program} is not installed (Debian: ${program === "candump" ? "can-utils" : "iproute2"}; .ci/run installs it)`,
    );
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fleetsync-socketcan-real-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("SocketCAN with the real ip and candump", () => {
  it("reads the real ip's JSON: no CAN link on this machine is none, and a missing device is undefined", async () => {
    which("ip");
    const all = await listCanInterfaces();
    expect(all.every((i) => i.kind === "can" || i.kind === "vcan")).toBe(true);
    expect(await readCanInterface("nosuch0")).toBeUndefined();
  });

  it("surfaces the real candump's failure, counts the exit and starts it again", async () => {
    const candumpPath = which("candump");
    // The interface check uses the stand-in ip (can0 up, listen-only), so that the real candump is what fails.
    await writeFile(
      join(dir, "interfaces.json"),
      JSON.stringify({ interfaces: [{ name: "can0", up: true, listenOnly: true }] }),
    );
    process.env.FLEETSYNC_STANDIN_STATE = join(dir, "interfaces.json");
    const logs: Array<Record<string, unknown>> = [];
    const logger = {
      child: () => logger,
      warn: (fields: Record<string, unknown>, msg: string) => logs.push({ msg, ...fields }),
      error: () => {},
      info: () => {},
      debug: () => {},
    } as unknown as Logger;
    const source = createCanSource(
      {
        format: "socketcan",
        interface: "can0",
        candumpPath,
        ipPath: join(STANDIN, "ip"),
        reconnectMinMs: 50,
        reconnectMaxMs: 100,
        logRepeatMs: 0,
      },
      { onMessage: () => {}, logger },
    );
    try {
      await source.start();
      await waitFor(() => (source.counters().exits ?? 0) >= 2, "two exits of the real candump", { timeoutMs: 30_000 });
    } finally {
      await source.stop();
    }
    const exit = logs.find((l) => l.msg === "candump exited; restarting");
    expect(exit?.code).not.toBe(0);
    expect(String(exit?.stderr)).toMatch(/Address family not supported by protocol|No such device|Network is down/);
  });
});
