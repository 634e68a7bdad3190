/**
 * Which GNSS times may set the truck's clock. The Pi has no battery-backed clock, so GNSS time is the only good
 * one, but receivers print garbage dates on epochs without a fix (a cold start shows 1999-08-22 or 2006-12-16 beside
 * the real date) and receivers with old firmware count GPS weeks in 10 bits and fall 1024 weeks (19.6 years) behind
 * after a rollover. The rules:
 * - only a valid fix (fix type 2d/3d: RMC status A, GGA quality 1-6 or GSA mode >= 2, epoch.ts) may set the clock;
 * - a date before `notBeforeMs` (the agent's release floor) is a week-number rollover: 1024-week steps are added, at
 *   most MAX_ROLLOVERS of them, until it is not before the floor; beyond that it is refused as garbage;
 * - once the clock is set, a time more than `maxJumpMs` away from where the clock has got to (the last trusted time
 *   plus monotonic time) is taken only when the next valid fix agrees with it (its time advanced as the monotonic
 *   clock did, within AGREE_MS): one bad epoch cannot move the clock;
 * - every refusal is counted by reason, for the metrics and `doctor`.
 */
import type { GpsFix } from "../decoders/types.ts";

export const GPS_WEEK_ROLLOVER_MS = 1024 * 7 * 86_400_000;
const MAX_ROLLOVERS = 2;
/** Two consecutive fixes agree when their times differ by the monotonic time between them, give or take this. */
const AGREE_MS = 2_000;

/**
 * The agent's release floor: no real GNSS date the agent sees is earlier. Raise it with a release; it only has to be
 * earlier than any date a truck running that release can see.
 */
export const AGENT_NOT_BEFORE_MS = Date.UTC(2026, 10, 1);

export type GnssTimeRefusal = "no-fix" | "implausible-date" | "jump";

export interface GnssTimeConfig {
  notBeforeMs: number;
  maxJumpMs: number;
}

export interface GnssTimeCounters {
  accepted: number;
  rolloversCorrected: number;
  refused: Record<GnssTimeRefusal, number>;
}

export interface GnssClock {
  /** Offers a fix's time at monotonic instant `monoMs`; true when it set the clock. */
  offer(fix: GpsFix, monoMs: number): boolean;
  /** The last trusted GNSS time and the monotonic instant it belongs to. */
  anchor(): { wallMs: number; monoMs: number } | undefined;
  counters(): GnssTimeCounters;
}

export function createGnssClock(config: GnssTimeConfig): GnssClock {
  let anchor: { wallMs: number; monoMs: number } | undefined;
  let pending: { wallMs: number; monoMs: number } | undefined;
  const counters: GnssTimeCounters = {
    accepted: 0,
    rolloversCorrected: 0,
    refused: { "no-fix": 0, "implausible-date": 0, jump: 0 },
  };

  function refuse(reason: GnssTimeRefusal): false {
    counters.refused[reason]++;
    return false;
  }

  function accept(wallMs: number, monoMs: number): true {
    anchor = { wallMs, monoMs };
    pending = undefined;
    counters.accepted++;
    return true;
  }

  return {
    offer(fix, monoMs) {
      if (fix.time === null) return false;
      if (fix.fix === "none") return refuse("no-fix");
      let wallMs = Date.parse(fix.time);
      if (!Number.isFinite(wallMs)) return refuse("implausible-date");
      let steps = 0;
      while (wallMs < config.notBeforeMs && steps < MAX_ROLLOVERS) {
        wallMs += GPS_WEEK_ROLLOVER_MS;
        steps++;
      }
      if (wallMs < config.notBeforeMs) return refuse("implausible-date");
      if (steps > 0) counters.rolloversCorrected++;
      if (!anchor) return accept(wallMs, monoMs);
      const expected = anchor.wallMs + (monoMs - anchor.monoMs);
      if (Math.abs(wallMs - expected) <= config.maxJumpMs) return accept(wallMs, monoMs);
      const agrees = pending && Math.abs(wallMs - pending.wallMs - (monoMs - pending.monoMs)) <= AGREE_MS;
      if (agrees) return accept(wallMs, monoMs);
      pending = { wallMs, monoMs };
      return refuse("jump");
    },
    anchor: () => anchor,
    counters: () => ({ ...counters, refused: { ...counters.refused } }),
  };
}
