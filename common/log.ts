import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON logs on stderr, so a command's stdout stays its data (decode prints JSON Lines there) and
 * systemd's journal still captures everything. Level from FLEETSYNC_LOG_LEVEL, default "info".
 */
export function createLogger(component: string, level = process.env.FLEETSYNC_LOG_LEVEL ?? "info"): Logger {
  return pino({ base: { component }, level, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}

/** A logger that drops everything: for unit tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
