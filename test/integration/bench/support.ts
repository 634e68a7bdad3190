/** A benchmark script run as `npm run bench` runs it: its own process, against the test run's Kafka. */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { kafkaBrokers } from "../../support/kafka.ts";

const REPO = resolve(import.meta.dirname, "../../..");

export interface BenchRun {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** undefined while it runs; its exit code after (-1 when a signal ended it). */
  code(): number | null | undefined;
}

export function runBenchScript(file: string, env: Record<string, string>): BenchRun {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: REPO,
    env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(","), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  let code: number | null | undefined;
  child.once("exit", (c, signal) => (code = c ?? (signal ? -1 : null)));
  return { child, out: () => out, err: () => err, code: () => code };
}
