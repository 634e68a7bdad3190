/**
 * Drain pacing (issue 20): a byte allowance that refills at `bytesPerSecond`, up to one second's worth. A batch may
 * go out while the allowance is positive and takes its bytes from it (it may go below zero: a batch larger than the
 * allowance is never stuck, it only makes the next one wait longer), so the long-run rate is the configured one and
 * a burst is at most one second's worth plus one batch. The clock is passed in so unit tests need no timers.
 */
export interface Pace {
  /** ms until a batch may go (0: now). */
  waitMs(): number;
  /** A batch of `bytes` went out. */
  take(bytes: number): void;
}

export function createPace(bytesPerSecond: number, now: () => number = () => performance.now()): Pace {
  if (bytesPerSecond <= 0) return { waitMs: () => 0, take: () => {} };
  let allowance = bytesPerSecond;
  let at = now();
  function refill(): void {
    const t = now();
    allowance = Math.min(bytesPerSecond, allowance + ((t - at) * bytesPerSecond) / 1000);
    at = t;
  }
  return {
    waitMs() {
      refill();
      return allowance > 0 ? 0 : Math.ceil(((1 - allowance) * 1000) / bytesPerSecond);
    },
    take(bytes) {
      refill();
      allowance -= bytes;
    },
  };
}
