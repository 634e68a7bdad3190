/** A fixed-size ring of latency samples (when full, the oldest sample is overwritten) and its percentiles. */
export interface LatencyRing {
  add(ms: number): void;
  percentile(p: number): number | null;
  count(): number;
}

export function createLatencyRing(size: number): LatencyRing {
  const samples = new Float64Array(size);
  let n = 0;
  return {
    add(ms) {
      samples[n % size] = ms;
      n++;
    },
    percentile(p) {
      const have = Math.min(n, size);
      if (have === 0) return null;
      const sorted = samples.slice(0, have).sort();
      return sorted[Math.min(have - 1, Math.floor((p / 100) * have))]!;
    },
    count: () => n,
  };
}
