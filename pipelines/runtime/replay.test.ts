import { describe, expect, it } from "vitest";
import { describeMoves, parseReplayTarget } from "./replay.ts";

const NOW = new Date("2026-11-30T08:00:00.000Z");

describe("replay --to", () => {
  it("reads relative times, ISO times, earliest, latest and offsets", () => {
    expect(parseReplayTarget("2 hours ago", NOW)).toEqual({ kind: "time", at: new Date("2026-11-30T06:00:00.000Z") });
    expect(parseReplayTarget("90 minutes ago", NOW)).toEqual({ kind: "time", at: new Date("2026-11-30T06:30:00Z") });
    expect(parseReplayTarget("1 day ago", NOW)).toEqual({ kind: "time", at: new Date("2026-11-29T08:00:00Z") });
    expect(parseReplayTarget("30s ago", NOW)).toEqual({ kind: "time", at: new Date("2026-11-30T07:59:30Z") });
    expect(parseReplayTarget("2026-11-30T05:00:00+01:00")).toEqual({ kind: "time", at: new Date("2026-11-30T04:00Z") });
    expect(parseReplayTarget("earliest")).toEqual({ kind: "earliest" });
    expect(parseReplayTarget("LATEST")).toEqual({ kind: "latest" });
    expect(parseReplayTarget("offset 42")).toEqual({ kind: "offset", offset: 42n });
  });

  it("refuses anything else, naming the forms it takes", () => {
    for (const bad of ["yesterday", "2 fortnights ago", "2026-11-30 06:00", "2026-11-30T06:00:00", "offset -1", ""]) {
      expect(() => parseReplayTarget(bad, NOW), bad).toThrow(/is not an ISO time/);
    }
  });

  it("describes the moves per partition", () => {
    const text = describeMoves([
      { topic: "fleet.telemetry", partition: 0, from: "1200", to: "950" },
      { topic: "fleet.telemetry", partition: 11, from: "-1", to: "0" },
    ]);
    expect(text).toBe("fleet.telemetry/0   1200 -> 950  (-250)\nfleet.telemetry/11  -1 -> 0  (no commit before)");
  });
});
