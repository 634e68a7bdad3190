/**
 * The lifecycle both e2e process wrappers (agents.ts, bridge.ts) need from a child process: when it exited, a kill
 * that waits for the exit, and a stop that sends SIGTERM and SIGKILLs after `graceMs` (idempotent).
 */
import type { ChildProcess } from "node:child_process";

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export function childLifecycle(child: ChildProcess, graceMs: number) {
  const exited = new Promise<Exit>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await kill("SIGTERM");
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { exited, kill, stop };
}
