/**
 * Issue 12.3: a device that vanishes while it streams must be noticed, every time, within the bound the source
 * documents (presenceCheckMs). Real ptys from socat, and a real writer process flooding the device, so the source is
 * mid-read at the moment of the unplug: that is when a hung-up tty's 0-byte reads used to spin unnoticed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSerialLineSource } from "../../../agent/sources/serial/serial-line-source.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty, type Pty } from "./pty.ts";

/** A device streaming as fast as the pty takes it: a shell loop in a process of its own. */
function flood(feeder: string): ChildProcess {
  const sentence = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
  return spawn("sh", ["-c", `while :; do printf '${sentence}\\r\\n'; done > ${feeder} 2>/dev/null`], {
    stdio: "ignore",
  });
}

describe("serial line source: a device that vanishes while streaming", () => {
  const ptys: Pty[] = [];
  const writers: ChildProcess[] = [];
  let linkDir = "";
  afterAll(async () => {
    for (const w of writers) w.kill("SIGKILL");
    for (const p of ptys) await p.dispose();
    if (linkDir) await rm(linkDir, { recursive: true, force: true });
  });

  it("notices every unplug by the hangup itself, long before the presence check would", async () => {
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const pty = await createPty();
      ptys.push(pty);
      await pty.start();
      const source = createSerialLineSource(
        // The presence check is pushed out of the way: this round tests the read path alone.
        { path: pty.device, baudRate: 115200, reconnectMinMs: 5_000, presenceCheckMs: 60_000 },
        { onLine: () => {} },
      );
      await source.start();
      try {
        await waitFor(() => source.counters().opens === 1, "the port open", { timeoutMs: 10_000 });
        const writer = flood(pty.feeder);
        writers.push(writer);
        await waitFor(() => source.counters().bytes > 200_000, "the device streaming", { timeoutMs: 20_000 });
        await pty.stop();
        const gone = Date.now();
        await waitFor(() => source.counters().lost === 1, `round ${round}: the unplug noticed`, {
          timeoutMs: 5_000,
        });
        process.stdout.write(`round ${round}: unplug noticed after ${Date.now() - gone} ms\n`);
        writer.kill("SIGKILL");
      } finally {
        await source.stop();
      }
    }
  }, 120_000);

  it("reopens within presenceCheckMs when its path comes to name another device", async () => {
    // /dev/serial/by-id links are re-pointed when adapters are swapped; here the old device stays alive, so no read
    // ever fails: only the presence check can tell.
    const [a, b] = [await createPty(), await createPty()];
    ptys.push(a, b);
    await a.start();
    await b.start();
    linkDir = await mkdtemp(join(tmpdir(), "fleetsync-serial-link-"));
    const link = join(linkDir, "gps");
    await symlink(a.device, link);
    const lines: string[] = [];
    const source = createSerialLineSource(
      { path: link, baudRate: 115200, reconnectMinMs: 20, presenceCheckMs: 200 },
      { onLine: (l) => lines.push(l) },
    );
    await source.start();
    try {
      await waitFor(() => source.counters().opens === 1, "the port open", { timeoutMs: 10_000 });
      await a.write("$FROM,A\r\n");
      await waitFor(() => lines.includes("$FROM,A"), "a line from device A", { timeoutMs: 5_000 });
      await unlink(link);
      await symlink(b.device, link);
      const swapped = Date.now();
      await waitFor(() => source.counters().reopens === 1, "the reopen on device B", { timeoutMs: 5_000 });
      expect(Date.now() - swapped).toBeLessThan(200 + 2_000);
      expect(source.counters().lost).toBe(1);
      await b.write("$FROM,B\r\n");
      await waitFor(() => lines.includes("$FROM,B"), "a line from device B", { timeoutMs: 5_000 });
    } finally {
      await source.stop();
    }
  });
});
