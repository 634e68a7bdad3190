import type { Logger } from "./log.ts";

export interface RepeatedLog {
  /** Logs now, or counts the line when one was logged less than `intervalMs` ago. */
  report(fields: Record<string, unknown>): void;
}

/**
 * A log line that can repeat thousands of times a second (serial noise at a wrong baud rate, a missing device
 * retried): the first occurrence is logged at once, later ones at most once per interval, carrying `repeated`, how
 * many were not logged since the last line. The count of the last interval is logged with the next occurrence.
 */
export function repeatedLog(
  log: Logger,
  level: "info" | "warn" | "error",
  message: string,
  intervalMs = 60_000,
  now: () => number = Date.now,
): RepeatedLog {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return {
    report(fields) {
      const at = now();
      if (at - lastAt < intervalMs) {
        suppressed++;
        return;
      }
      log[level]({ ...fields, ...(suppressed > 0 ? { repeated: suppressed } : {}) }, message);
      lastAt = at;
      suppressed = 0;
    },
  };
}
