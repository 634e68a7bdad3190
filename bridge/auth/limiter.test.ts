import { describe, expect, it } from "vitest";
import { SourceLimiter, sourceKey } from "./limiter.ts";

function limiter(now: { t: number }, maxTrackedSources = 100) {
  return new SourceLimiter({
    connectionsPerSecond: 1,
    maxAuthFailures: 3,
    maxAuthFailuresPerSource: 5,
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

  it("blocks a (source, truck) after too many auth failures, for blockMs; other trucks from it are not", () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 3; i += 1) l.recordAuthFailure("a", "T1");
    expect(l.isBlocked("a", "T1")).toBe(true);
    expect(l.isBlocked("a", "T2")).toBe(false);
    expect(l.isBlocked("b", "T1")).toBe(false);
    now.t += 10_001;
    expect(l.isBlocked("a", "T1")).toBe(false);
  });

  it("blocks a whole source at its own, higher ceiling", () => {
    const now = { t: 0 };
    const l = limiter(now);
    for (let i = 0; i < 5; i += 1) l.recordAuthFailure("a", `T${i}`);
    expect(l.isBlocked("a", "T-never-failed")).toBe(true);
  });

  it("keeps its tables bounded", () => {
    const now = { t: 0 };
    const l = limiter(now, 10);
    for (let i = 0; i < 1_000; i += 1) l.recordAuthFailure(`10.0.${i >> 8}.${i & 255}`, "T");
    const internals = l as unknown as { failures: Map<string, unknown>; sourceFailures: Map<string, unknown> };
    expect(internals.failures.size).toBeLessThanOrEqual(10);
    expect(internals.sourceFailures.size).toBeLessThanOrEqual(10);
  });
});

describe("sourceKey", () => {
  it("keys IPv4 by address (also IPv4-mapped IPv6) and IPv6 by its /64", () => {
    expect(sourceKey("203.0.113.7")).toBe("203.0.113.7");
    expect(sourceKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(sourceKey("2001:db8:aa:bb:1:2:3:4")).toBe("2001:db8:aa:bb::/64");
    expect(sourceKey("2001:db8:aa:bb::9")).toBe(sourceKey("2001:0db8:00aa:00bb:ffff:1:2:3"));
    expect(sourceKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(sourceKey("::1")).toBe("0:0:0:0::/64");
    expect(sourceKey("2001:db8:aa:bc::1")).not.toBe(sourceKey("2001:db8:aa:bb::1"));
    expect(sourceKey(undefined)).toBe("unknown");
  });
});
