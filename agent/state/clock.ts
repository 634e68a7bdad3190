/** The clocks the state and sampler read: monotonic for intervals, wall for system timestamps. Injected in tests. */
export interface Clock {
  monoMs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
};
