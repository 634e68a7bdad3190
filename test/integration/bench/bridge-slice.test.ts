/**
 * bench:bridge's forwarder slice figure (bridge.sliceUsPerRecord) finds the machinery it names in a CPU profile of
 * the real bridge, and only it: renaming `whenTurn`/`slice` (the bench would then find nothing and refuse) or
 * counting the publish work they run (tens of µs per record, most of the bridge's CPU) breaks this test.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { kafkaBrokers } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";

const REPO = resolve(import.meta.dirname, "../../..");

describe("bench:bridge's slice phase", () => {
  it("measures the forwarder's FIFO and slices, a small share of the bridge's CPU", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/bench/bridge.ts"], {
      cwd: REPO,
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(","), BENCH_PHASES: "slice", BENCH_SECONDS: "2" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    let code: number | null | undefined;
    child.once("exit", (c, signal) => (code = c ?? (signal ? -1 : null)));
    try {
      await waitFor(() => code !== undefined, "bench:bridge to finish its slice phase", {
        timeoutMs: 180_000,
        intervalMs: 200,
      });
      expect(code, err).toBe(0);
      const figures = JSON.parse(out.split("\n").find((l) => l.startsWith("{"))!) as Record<string, number>;
      expect(figures["bridge.sliceUsPerRecord"]).toBeGreaterThan(0);
      expect(figures["bridge.sliceUsPerRecord"]).toBeLessThan(20);
      expect(figures["bridge.sliceCpuShare"]).toBeGreaterThan(0);
      expect(figures["bridge.sliceCpuShare"]).toBeLessThan(0.25);
    } finally {
      if (code === undefined) child.kill("SIGKILL");
    }
  });
});
