import { describe, expect, it } from "vitest";
import { alertId, alertJson, AlertSchema, toAlertMessage } from "./alerts.ts";
import { buildSamples } from "./examples/samples.ts";

const base = { truckId: "TRK-1", detector: "idling", stream: "00000000000000aa", seq: 7 } as const;

describe("alert ids", () => {
  it("are the same for the same trigger and differ when any part differs", () => {
    expect(alertId(base)).toBe(alertId({ ...base }));
    expect(alertId(base)).toMatch(/^[0-9a-f]{32}$/);
    const others = [
      { ...base, truckId: "TRK-2" },
      { ...base, detector: "silent" as const },
      { ...base, stream: "00000000000000ab" },
      { ...base, seq: 8 },
      { ...base, subject: "depot" },
    ];
    expect(new Set([alertId(base), ...others.map(alertId)]).size).toBe(others.length + 1);
  });

  it("are the ids earlier versions gave (a replay after an upgrade must give the same ones)", () => {
    const stream = "0123456789abcdef";
    expect(alertId({ truckId: "TRK-0042", detector: "idling", stream, seq: 7 })).toBe(
      "97f833a9354b3217e01584a68902660c",
    );
    expect(alertId({ truckId: "TRK-0042", detector: "geofence-enter", stream, seq: 7, subject: "depot-1" })).toBe(
      "f6a4153a4ae18431c1d36d9db48bbd0c",
    );
  });

  it("cannot collide by moving text between parts (the parts are separated)", () => {
    expect(alertId({ ...base, truckId: "T", subject: "1" })).not.toBe(alertId({ ...base, truckId: "T1" }));
  });
});

describe("the alert message", () => {
  it("is keyed by truck and its value validates", () => {
    const sample = buildSamples().find((s) => s.name === "alerts")!;
    expect(sample.message.key).toBe("TRK-0042");
    const alert = AlertSchema.parse(JSON.parse(sample.message.value as string));
    expect(toAlertMessage(alert).value).toBe(sample.message.value);
    // Made once per alert: the terminal's line reuses the text the message carries.
    expect(alertJson(alert)).toBe(JSON.stringify(alert));
    expect(alertJson(alert)).toBe(toAlertMessage(alert).value);
  });
});
