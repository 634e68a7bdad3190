/**
 * What every fault test ends with: the verifier's account of both topics must show zero unexplained loss and zero
 * reordering (raw, before the filter, and after it), every truck on one partition; duplicates are allowed (delivery
 * is at least once) and reported. Announced loss is allowed only where the test says so (outbox overflow).
 */
import { expect } from "vitest";
import type { VerifySummary } from "../../sim/index.ts";
import { describeResult, type FleetResult } from "../e2e/fleet.ts";

export function expectNoLossNoReorder(
  name: string,
  result: Pick<FleetResult, "telemetry" | "events">,
  options: { announcedLossAllowed?: boolean } = {},
): void {
  process.stdout.write(`${describeResult(name, result)}\n`);
  for (const [channel, summary] of [
    ["telemetry", result.telemetry],
    ["events", result.events],
  ] as const) {
    const s: VerifySummary = summary;
    expect(s.failures, `${channel} failures`).toEqual([]);
    expect(s.ok, `${channel} ok`).toBe(true);
    expect(s.timedOut, `${channel} timed out`).toBe(false);
    expect(s.totals.lostUnexplained, `${channel} lost without announcement`).toBe(0);
    expect(s.totals.reordered, `${channel} reordered`).toBe(0);
    expect(s.totals.invalid, `${channel} invalid`).toBe(0);
    const afterFilter = Object.values(s.trucks).reduce((n, t) => n + t.reorderedAfterFilter, 0);
    expect(afterFilter, `${channel} out of order after the filter`).toBe(0);
    if (!options.announcedLossAllowed) expect(s.totals.lostAnnounced, `${channel} announced loss`).toBe(0);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
