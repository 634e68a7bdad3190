import { describe, expect, it } from "vitest";
import { SourceLimiter } from "./limiter.ts";

function limiter(now: { t: number }, maxTrackedSources = 100) {
  return new SourceLimiter({
    connectionsPerSecond: 1,
    maxAuthFailures: 3,
    failureWindowMs: 1_000,
    blockMs: 10_000,
    maxTrackedSources,
    now: () => now.t,
  });
}

describe("SourceLimiter", () => {
  it("allows a burst of 5x the rate, then refuses until tokens refill", () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 5; i += 1) expect(l.admitConnection("a").ok).toBe(true);
    expect(l.admitConnection("a")).toEqual({ ok: false, reason: "rate" });
    expect(l.admitConnection("b").ok).toBe(true);
    now.t += 1_000;
    expect(l.admitConnection("a").ok).toBe(true);
  });

  it("blocks a source after too many auth failures, for blockMs", () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 3; i += 1) l.recordAuthFailure("a");
    expect(l.isBlocked("a")).toBe(true);
    expect(l.admitConnection("a")).toEqual({ ok: false, reason: "blocked" });
    now.t += 10_001;
    expect(l.isBlocked("a")).toBe(false);
  });

  it("keeps its tables bounded", () => {
    const now = { t: 0 };
    const l = limiter(now, 10);
    for (let i = 0; i < 1_000; i += 1) l.recordAuthFailure(`10.0.${i >> 8}.${i & 255}`);
    const internals = l as unknown as { failures: Map<string, unknown> };
    expect(internals.failures.size).toBeLessThanOrEqual(10);
  });
});
