import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../common/errors.ts";
import { truckIdArb } from "./testing/arbitraries.ts";
import { CHANNELS, confirmTopic, parseTopic, TOPIC_KINDS, topicFor } from "./topics.ts";
import { assertTruckId, isTruckId } from "./truck-id.ts";

describe("truck ids and topics", () => {
  it("accepts 1-64 characters of A-Z a-z 0-9 _ - and nothing else", () => {
    expect(isTruckId("TRK-0042_a")).toBe(true);
    expect(isTruckId("x".repeat(64))).toBe(true);
    for (const bad of ["", "x".repeat(65), "a/b", "a+b", "a#", "ümlaut", "a b", 42, null]) {
      expect(isTruckId(bad)).toBe(false);
    }
    expect(() => assertTruckId("a/b")).toThrow(/not valid/);
  });

  it("builds and parses every topic of the contract", () => {
    fc.assert(
      fc.property(truckIdArb, fc.constantFrom(...TOPIC_KINDS), (truckId, kind) => {
        expect(parseTopic(topicFor(truckId, kind))).toEqual({ truckId, kind, rest: [] });
      }),
    );
    expect(parseTopic(confirmTopic("T1"))).toEqual({ truckId: "T1", kind: "config", rest: ["confirm"] });
    expect(CHANNELS).toEqual(["telemetry", "events"]);
  });

  it("refuses topics outside the contract", () => {
    for (const topic of [
      "fleetsync/v2/T1/telemetry",
      "fleetsync/v1/T1",
      "fleetsync/v1/T1/other",
      "fleetsync/v1/T1/telemetry/extra",
      "fleetsync/v1/+/telemetry",
      "fleetsync/v1/#",
    ]) {
      expect(parseTopic(topic)).toBeUndefined();
    }
    let caught: unknown;
    try {
      topicFor("a/b", "telemetry");
    } catch (error) {
      caught = error;
    }
    expect(isFleetError(caught, "FLEET_TRUCK_ID_INVALID")).toBe(true);
  });
});
