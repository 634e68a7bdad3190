/**
 * bench:bridge's forwarder slice figure (bridge.sliceUsPerRecord) finds the machinery it names in a CPU profile of
 * the real bridge, and only it: renaming `whenTurn`/`slice` (the bench would then find nothing and refuse) or
 * counting the publish work they run (tens of µs per record, most of the bridge's CPU) breaks this test.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../support/wait.ts";
import { runBenchScript } from "./support.ts";

/** Its bridge, a load child, a 2 s profiled run and topic deletion: seconds, but each process starts slowly when busy. */
const DEADLINE_MS = 150_000;

describe("bench:bridge's slice phase", () => {
  it(
    "measures the forwarder's FIFO and slices, a small share of the bridge's CPU",
    async () => {
      const run = runBenchScript("test/bench/bridge.ts", { BENCH_PHASES: "slice", BENCH_SECONDS: "2" });
      try {
        await waitFor(() => run.code() !== undefined, "bench:bridge to finish its slice phase", {
          timeoutMs: DEADLINE_MS,
          intervalMs: 200,
        });
        expect(run.code(), run.err()).toBe(0);
        const figures = JSON.parse(
          run
            .out()
            .split("\n")
            .find((l) => l.startsWith("{"))!,
        ) as Record<string, number>;
        expect(figures["bridge.sliceUsPerRecord"]).toBeGreaterThan(0);
        expect(figures["bridge.sliceUsPerRecord"]).toBeLessThan(20);
        expect(figures["bridge.sliceCpuShare"]).toBeGreaterThan(0);
        expect(figures["bridge.sliceCpuShare"]).toBeLessThan(0.25);
      } finally {
        if (run.code() === undefined) run.child.kill("SIGKILL");
      }
    },
    DEADLINE_MS + 30_000,
  );
});
