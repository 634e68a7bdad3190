import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON logs on stderr, so a command's stdout stays its data (decode prints JSON Lines there) and
 * systemd's journal still captures everything. Level from FLEETSYNC_LOG_LEVEL, default "info".
 *
 * Every line carries one `component`: the process's own name on its own lines, the part's name on a child made
 * with `log.child({ component: "outbox" })`. pino writes bindings as they were added, so a `component` in the base
 * and another in a child would give a line with the key twice (which JSON parsers resolve differently); the process
 * name is therefore added by a mixin only to lines whose logger has no component of its own.
 */
export function createLogger(
  component: string,
  level = process.env.FLEETSYNC_LOG_LEVEL ?? "info",
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      base: {},
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: (_object, _level, logger) => (logger.bindings().component === undefined ? { component } : {}),
    },
    destination,
  );
}

/** A logger that drops everything: for unit tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
