/**
 * The outage scenarios' run (outage.test.ts, outage-thinning.test.ts): one truck on a pty, GPS only, one fix and
 * one record per simulated second at `timeScale`, its agent started with the bridge down (an outage from the
 * first record).
 */
import { kafkaBrokers } from "../support/kafka.ts";
import type { AgentPlan } from "./agents.ts";
import { type FleetRun, startFleetRun } from "./fleet.ts";

export function startOutageRun(
  name: string,
  timeScale: number,
  overrides: { broker?: Record<string, unknown>; outbox?: Record<string, unknown> },
): Promise<FleetRun> {
  const agent: AgentPlan["overrides"] = {
    clock: { timeScale },
    sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000, minIntervalMs: 0, tickMs: 20 },
    // The GNSS-time guard's tolerance is in simulated time (see detect-agents.test.ts).
    state: { gnssMaxJumpMs: 10_000 * timeScale },
    ...overrides,
  };
  return startFleetRun({
    name,
    brokers: kafkaBrokers(),
    trucks: 1,
    canKind: () => "none",
    nmeaHz: 1,
    timeScale,
    // One simulated second per device write, so each NMEA epoch is its own fix and each fix its own record.
    deviceTickMs: 1_000 / timeScale,
    bridgeUp: false,
    agent,
  });
}
