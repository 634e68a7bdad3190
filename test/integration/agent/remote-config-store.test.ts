/**
 * Issue 19: the agent killed while writing its applied remote config. A process writes the overlay in a loop with
 * the agent's saveOverlay and is SIGKILLed at a random point; the file must then hold the last version it reported
 * saved or the one after it, whole and valid, never a mix or a truncated file.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadOverlay } from "../../../agent/remote-config/store.ts";
import { waitFor } from "../../support/wait.ts";

const WRITER = resolve(import.meta.dirname, "overlay-writer.ts");
const TRUCK = "TRK-store-1";

describe("remote config overlay on disk", () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is the old or the new one, whole, after a SIGKILL during the write", async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-overlay-"));
    const file = join(dir, "outbox.remote-config.json");
    for (let round = 0; round < 6; round += 1) {
      const child = spawn(process.execPath, ["--import", "tsx", WRITER, file, TRUCK], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let saved = 0;
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        const lines = chunk.trim().split("\n");
        saved = Number(lines[lines.length - 1]);
      });
      const exited = new Promise((r) => child.once("exit", r));
      // A random number of completed writes first, so the kill falls at a different point of a write each round.
      const target = 20 + Math.floor(Math.random() * 200);
      await waitFor(() => saved >= target, `${target} overlays written`, { timeoutMs: 60_000 });
      child.kill("SIGKILL");
      await exited;
      const loaded = await loadOverlay(file, TRUCK);
      expect(loaded.problem).toBeUndefined();
      const version = loaded.overlay!.version;
      // The writer restarts at version 1 each round: the file holds this round's last reported save or the next.
      expect([saved, saved + 1]).toContain(version);
      expect(loaded.overlay!.sampler!.movingPeriodMs).toBe(1_000 + version);
    }
    // A temp file a kill left behind is harmless: it is never read, and the next save replaces it.
    expect((await readdir(dir)).filter((f) => !f.startsWith("."))).toEqual(["outbox.remote-config.json"]);
  });
});
