/**
 * A real pseudo-terminal pair made by socat, standing in for a USB serial device: the source opens `device`, the test
 * writes into `feeder`. `stop()` stops socat (the device disappears, like a USB unplug); `start()` again recreates
 * both link names (the device reappears).
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPtyPair, type PtyPair } from "../../../sim/devices/pty-pair.ts";

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
  let pair: PtyPair | undefined;

  async function start(): Promise<void> {
    pair ??= await createPtyPair(feeder, device);
  }

  // Stopping socat removes both links, as unplugging a USB adapter removes its device node.
  async function stop(): Promise<void> {
    const stopping = pair;
    pair = undefined;
    await stopping?.stop();
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
