import { describe, expect, it } from "vitest";
import { isFleetError } from "../common/errors.ts";
import { confirmRequestProperties, encodeConfirmReply, newCorrelationData, parseConfirmReply } from "./confirm.ts";

describe("MQTT 5 confirmation contract", () => {
  it("asks for the reply on the truck's config/confirm topic with fresh correlation data", () => {
    const props = confirmRequestProperties("TRK-1");
    expect(props.responseTopic).toBe("fleetsync/v1/TRK-1/config/confirm");
    expect(props.correlationData).toHaveLength(16);
    expect(newCorrelationData().equals(newCorrelationData())).toBe(false);
  });

  it("round-trips both reply kinds", () => {
    const ok = { ok: true as const, topic: "fleet.telemetry", partition: 2, offset: "9007199254740993", records: 1 };
    expect(parseConfirmReply(encodeConfirmReply(ok))).toEqual(ok);
    const failed = { ok: false as const, code: "FLEET_KAFKA", reason: "Kafka did not acknowledge within 10 s" };
    expect(parseConfirmReply(encodeConfirmReply(failed))).toEqual(failed);
  });

  it("throws FLEET_PAYLOAD_INVALID naming the problem for a bad reply", () => {
    for (const [payload, pattern] of [
      ["{", /not valid JSON/],
      ['{"ok":true,"topic":"t","partition":-1,"offset":"1","records":1}', /partition/],
      ['{"ok":false,"code":"oops","reason":"x"}', /code/],
    ] as const) {
      let caught: unknown;
      try {
        parseConfirmReply(Buffer.from(payload));
      } catch (error) {
        caught = error;
      }
      expect(isFleetError(caught, "FLEET_PAYLOAD_INVALID")).toBe(true);
      expect((caught as Error).message).toMatch(pattern);
    }
  });
});
