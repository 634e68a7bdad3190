/** The clocks the state and sampler read: monotonic for intervals, wall for system timestamps. Injected in tests. */
export interface Clock {
  monoMs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/**
 * For simulation and replay only (`clock.timeScale`): the monotonic clock runs `scale` times faster, so everything
 * measured on it (the GNSS-time guard's expected advance, timestamps carried forward between epochs, sampler periods,
 * fix and engine ageing, ignition-off silence, DTC debounce) is in the simulated receiver's time. Scaling the one
 * clock rather than the guard alone keeps all of them consistent with each other: a 60x receiver with a 1x sampler
 * would stamp a 25-minute stop with one record per 5 simulated hours. The wall clock (system timestamps when GNSS
 * time is missing) is left real: it is the Pi's own time, not the receiver's.
 */
export function scaledClock(base: Clock, scale: number): Clock {
  if (scale === 1) return base;
  return { monoMs: () => base.monoMs() * scale, wallMs: () => base.wallMs() };
}
