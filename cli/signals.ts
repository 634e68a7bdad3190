import type { Logger } from "../common/log.ts";

/**
 * Waits for SIGTERM or SIGINT, then runs `stop` (a failure is logged, not thrown: the process is leaving anyway).
 * A second signal while stopping exits at once with 130.
 */
export function untilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "signal received");
      process.once(signal, () => process.exit(130));
      stop().then(resolve, (error: unknown) => {
        logger.error({ err: error }, "stop failed");
        resolve();
      });
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
}
