/**
 * How a long-running command answers stop signals (docs/operations.md, "Stopping"):
 * - the first SIGTERM or SIGINT starts the graceful stop, which has its own deadline;
 * - SIGTERM again changes nothing. One request often arrives more than once: a process group is signalled and a
 *   wrapper in it (npx, tsx, a shell) relays the signal as well (issue 12). Process managers that lose patience
 *   (systemd, Kubernetes) do not send a second SIGTERM, they send SIGKILL;
 * - SIGINT again, at least `REPEAT_AFTER_MS` after the first signal, is a person pressing Ctrl-C twice: stop
 *   waiting and exit 130 at once. Sooner, it is the same keypress delivered twice (to the foreground process group).
 */
import type { Logger } from "../common/log.ts";

export const REPEAT_AFTER_MS = 1_000;

/** Resolves when `stop()` has finished after the first stop signal. */
export function stopOnSignals(
  stop: () => Promise<void>,
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<void> {
  return new Promise<void>((resolve) => {
    let firstAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (firstAt === undefined) {
        firstAt = now;
        logger.info({ signal }, "signal received");
        // The stop's own timers are unref'd (a library must not hold a process open); while it waits for Kafka
        // with the sockets already closed, this keeps the process alive until the stop has finished.
        const keepAlive = setInterval(() => undefined, 1 << 30);
        stop()
          .catch((error: unknown) => logger.error({ err: error }, "stop failed"))
          .finally(() => {
            clearInterval(keepAlive);
            resolve();
          });
        return;
      }
      if (signal === "SIGINT" && now - firstAt >= REPEAT_AFTER_MS) {
        logger.warn({ signal }, "second interrupt: not waiting for the stop to finish");
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        exit(130);
        return;
      }
      logger.info({ signal, sinceFirstMs: now - firstAt }, "stop signal repeated; still stopping");
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
