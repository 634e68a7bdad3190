/**
 * Runs `fleetsync` with arguments as a process of its own, as an installer types it, and hands back its exit code
 * and output once it exits (doctor, provision: commands that end by themselves).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fleetsyncCommand } from "./build.ts";

const REPO = resolve(import.meta.dirname, "../..");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runFleetsync(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  const child = spawn(process.execPath, [...fleetsyncCommand(), ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}
