/** Exponential backoff with jitter (0.5x..1.5x), so a fleet that lost the broker together does not return together. */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(Math.min(maxMs, base * (0.5 + random())));
}
