import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.ts";

describe("reconnect backoff", () => {
  it("doubles from the minimum up to the maximum, jittered 0.5x..1.5x and never above the maximum", () => {
    expect(backoffDelay(0, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffDelay(0, 1000, 60_000, () => 0.999)).toBe(1499);
    expect(backoffDelay(3, 1000, 60_000, () => 0.5)).toBe(8000);
    expect(backoffDelay(20, 1000, 60_000, () => 0.999)).toBe(60_000);
    expect(backoffDelay(20, 1000, 60_000, () => 0)).toBe(30_000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(2, 1000, 60_000)));
    expect(spread.size).toBeGreaterThan(10); // a fleet that lost the broker together does not come back together
  });
});
