/**
 * Bad simulator options reach users (`fleetsync sim --nmea-hz 20`): each is a typed error with a FLEET_ code naming
 * the option (issue 14.2), not a RangeError.
 */
import { describe, expect, it } from "vitest";
import { isFleetError } from "../common/errors.ts";
import { createJ1939Generator } from "./j1939/generator.ts";
import { bamFrames } from "./j1939/transport.ts";
import { createTruckSim } from "./truck-sim.ts";

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("simulator options", () => {
  it("refuses nmeaHz outside 1..10 with FLEET_CONFIG_INVALID naming the option", () => {
    const error = thrown(() => createTruckSim({ seed: "opt", nmeaHz: 20 }));
    expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toContain("nmeaHz");
  });

  it("refuses an EEC1 period outside 10..20 ms with FLEET_CONFIG_INVALID naming the option", () => {
    const error = thrown(() => createJ1939Generator({ seed: "opt", eec1PeriodMs: 5 }));
    expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toContain("eec1PeriodMs");
  });

  it("refuses a BAM payload over 1785 bytes, or one that fits a single frame, with a payload code", () => {
    expect(
      isFleetError(
        thrown(() => bamFrames(0xfeca, new Uint8Array(1786), 0)),
        "FLEET_PAYLOAD_TOO_LARGE",
      ),
    ).toBe(true);
    expect(
      isFleetError(
        thrown(() => bamFrames(0xfeca, new Uint8Array(8), 0)),
        "FLEET_PAYLOAD_INVALID",
      ),
    ).toBe(true);
    expect(bamFrames(0xfeca, new Uint8Array(9), 0)).toHaveLength(3); // one announcement, two data packets
  });
});
