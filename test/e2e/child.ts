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

/**
 * Waits for the `{"ready":true,...}` line a fleetsync server command prints on stdout once it listens, and returns
 * it parsed; rejects (naming `what` and the log tail) when the child exits first or is not ready within `timeoutMs`.
 */
export function readyLine<T>(
  child: ChildProcess,
  exited: Promise<Exit>,
  what: string,
  tail: () => string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} was not ready within ${timeoutMs} ms: ${tail()}`));
    }, timeoutMs);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.includes('"ready":true'));
      if (!line) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as T);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${tail()}`));
    });
  });
}
