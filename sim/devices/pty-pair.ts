/**
 * A pair of connected pseudo-terminals made by socat, the way FleetSync tests and the demo fake serial devices:
 * `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`. Whatever is written to one end is read at the other,
 * with no line discipline in between (raw, no echo), like a USB serial adapter. Stopping socat removes both links,
 * which is also how the sim "unplugs" a device.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { FleetError } from "../../common/errors.ts";

export interface PtyPair {
  /** The two link paths, as given. */
  readonly paths: readonly [string, string];
  /** Stops socat and waits for it to exit (idempotent). */
  stop(): Promise<void>;
  /** Resolves when socat exits for any reason. */
  readonly exited: Promise<number | null>;
}

const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 2000;

export async function createPtyPair(linkA: string, linkB: string): Promise<PtyPair> {
  const child: ChildProcess = spawn(
    "socat",
    ["-d", "-d", `pty,raw,echo=0,link=${linkA}`, `pty,raw,echo=0,link=${linkB}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(null));
  });

  // socat -d -d logs "N PTY is /dev/pts/X" per address and then "starting data transfer loop": both links exist.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new FleetError("FLEET_TIMEOUT", `socat did not create ${linkA} and ${linkB} within ${START_TIMEOUT_MS} ms`),
      );
    }, START_TIMEOUT_MS);
    timer.unref();
    const onData = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
      if (stderr.includes("starting data transfer loop")) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        child.stderr?.resume(); // keep draining so socat never blocks on a full pipe
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = error.code === "ENOENT" ? ": socat is not installed (Debian/Ubuntu: apt-get install socat)" : "";
      reject(new FleetError("FLEET_SERIAL_OPEN", `cannot start socat${hint}`, { cause: error }));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new FleetError("FLEET_SERIAL_OPEN", `socat exited with ${code} before creating the ptys: ${stderr.trim()}`),
      );
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    paths: [linkA, linkB],
    exited,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        timer.unref();
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
