/**
 * `npm run bench` runs every benchmark script one after the other and prints its report only when the last one has
 * exited: a script that prints its figures and then stays alive (a child process, socket or timer left open) keeps
 * the whole report from ever ending. The fleet script, at a tiny size, against the run's Kafka: it must print its
 * JSON line and then exit by itself with code 0.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../support/wait.ts";
import { runBenchScript } from "./support.ts";

/** Generous: on a busy 2-core machine each of the script's child processes takes seconds to start. */
const FIGURES_DEADLINE_MS = 240_000;
/** After its last line the script only stops its children and removes a temporary folder. */
const EXIT_DEADLINE_MS = 60_000;

describe("bench:fleet", () => {
  it(
    "prints its figures and exits by itself",
    async () => {
      const run = runBenchScript("test/bench/fleet.ts", {
        BENCH_FLEET_STEPS: "20",
        BENCH_FLEET_SECONDS: "1",
        BENCH_STORM_TRUCKS: "20",
        BENCH_STORM_BACKLOG_S: "5",
      });
      try {
        const line = await waitFor(
          () =>
            run
              .out()
              .split("\n")
              .find((l) => l.startsWith("{")) ?? (run.code() !== undefined ? "" : undefined),
          "the fleet bench's JSON line",
          { timeoutMs: FIGURES_DEADLINE_MS, intervalMs: 200 },
        );
        expect(line, `it exited with ${run.code()} before its figures:\n${run.err()}`).not.toBe("");
        const figures = JSON.parse(line) as Record<string, unknown>;
        expect(typeof figures["fleet.trucksAtP99Under50ms"]).toBe("number");
        expect(typeof figures["fleet.stormDrainSec"]).toBe("number");
        await waitFor(() => run.code() !== undefined, "the fleet bench to exit after printing its figures", {
          timeoutMs: EXIT_DEADLINE_MS,
          intervalMs: 200,
        });
        expect(run.code()).toBe(0);
      } finally {
        // A failing run must not leave the script (and its children) behind.
        if (run.code() === undefined) run.child.kill("SIGKILL");
      }
    },
    FIGURES_DEADLINE_MS + EXIT_DEADLINE_MS + 30_000,
  );
});
