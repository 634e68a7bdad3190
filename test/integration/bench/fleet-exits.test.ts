/**
 * `npm run bench` runs every benchmark script one after the other and prints its report only when the last one has
 * exited: a script that prints its figures and then stays alive (a child process, socket or timer left open) keeps
 * the whole report from ever ending. The fleet script, at a tiny size, against the run's Kafka: it must print its
 * JSON line and then exit by itself with code 0.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { kafkaBrokers } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";

const REPO = resolve(import.meta.dirname, "../../..");
/** Generous: on a busy 2-core machine each of the script's child processes takes seconds to start. */
const FIGURES_DEADLINE_MS = 240_000;
/** After its last line the script only stops its children and removes a temporary folder. */
const EXIT_DEADLINE_MS = 60_000;

describe("bench:fleet", () => {
  it(
    "prints its figures and exits by itself",
    async () => {
      const child = spawn(process.execPath, ["--import", "tsx", "test/bench/fleet.ts"], {
        cwd: REPO,
        env: {
          ...process.env,
          KAFKA_BROKERS: kafkaBrokers().join(","),
          BENCH_FLEET_STEPS: "20",
          BENCH_FLEET_SECONDS: "1",
          BENCH_STORM_TRUCKS: "20",
          BENCH_STORM_BACKLOG_S: "5",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
      let code: number | null | undefined;
      child.once("exit", (c, signal) => (code = c ?? (signal ? -1 : null)));
      try {
        const line = await waitFor(
          () => out.split("\n").find((l) => l.startsWith("{")) ?? (code !== undefined ? "" : undefined),
          "the fleet bench's JSON line",
          { timeoutMs: FIGURES_DEADLINE_MS, intervalMs: 200 },
        );
        expect(line, `it exited with ${code} before its figures:\n${err}`).not.toBe("");
        const figures = JSON.parse(line) as Record<string, unknown>;
        expect(typeof figures["fleet.trucksAtP99Under50ms"]).toBe("number");
        expect(typeof figures["fleet.stormDrainSec"]).toBe("number");
        await waitFor(() => code !== undefined, "the fleet bench to exit after printing its figures", {
          timeoutMs: EXIT_DEADLINE_MS,
          intervalMs: 200,
        });
        expect(code).toBe(0);
      } finally {
        // A failing run must not leave the script (and its children) behind.
        if (code === undefined) child.kill("SIGKILL");
      }
    },
    FIGURES_DEADLINE_MS + EXIT_DEADLINE_MS + 30_000,
  );
});
