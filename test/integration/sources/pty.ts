/**
 * A real pseudo-terminal pair made by socat, standing in for a USB serial device: the source opens `device`, the test
 * writes into `feeder`. `stop()` kills socat (the device disappears, like a USB unplug); `start()` again recreates
 * both link names (the device reappears).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../support/wait.ts";

export interface Pty {
  device: string;
  feeder: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Writes into the feeder end (opened per call, so it survives restarts). */
  write(data: string | Buffer): Promise<void>;
  dispose(): Promise<void>;
}

export async function createPty(): Promise<Pty> {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-pty-"));
  const device = join(dir, "device");
  const feeder = join(dir, "feeder");
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const p = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${feeder}`, `pty,raw,echo=0,link=${device}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = p;
    let stderr = "";
    p.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // socat logs "starting data transfer loop" once both ends exist.
    await waitFor(() => stderr.includes("starting data transfer loop") && existsSync(device), "socat pty pair", {
      timeoutMs: 10_000,
    });
  }

  async function stop(): Promise<void> {
    const p = child;
    if (!p) return;
    child = undefined;
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGKILL");
    await exited;
    await waitFor(() => !existsSync(device) || undefined, "pty links to go", { timeoutMs: 5_000 }).catch(() => {});
  }

  return {
    device,
    feeder,
    start,
    stop,
    async write(data) {
      const handle = await open(feeder, "r+");
      try {
        await handle.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
      } finally {
        await handle.close();
      }
    },
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
