import { describe, expect, it } from "vitest";
import { checkRemoteConfig, REMOTE_CONFIG_MAX_BYTES } from "./remote-config.ts";

const base = { truckId: "TRK-1", version: 4 };
const check = (value: unknown, truckId = "TRK-1") => checkRemoteConfig(JSON.stringify(value), truckId);

describe("remote config schema (what fleet.config may set on a truck)", () => {
  it("accepts the settings that may change remotely", () => {
    const result = check({
      ...base,
      sampler: { movingPeriodMs: 2_500, parkedPeriodMs: 60_000, distanceM: 0 },
      state: { sources: { totalDistanceKm: [238, 23] } },
      logLevel: "debug",
      outbox: { maxBytes: 64 * 1024 * 1024 },
    });
    expect(result).toMatchObject({ ok: true, config: { version: 4, logLevel: "debug" } });
  });

  it.each([
    ["a CAN adapter (could transmit on the bus)", { can: { path: "/dev/ttyUSB1" } }, "can"],
    ["the broker address", { broker: { url: "mqtt://evil:1883" } }, "broker"],
    ["credentials", { password: "x" }, "password"],
    ["the outbox folder", { outbox: { dir: "/tmp/x" } }, "outbox"],
    ["the sampler's tick", { sampler: { tickMs: 10 } }, "sampler"],
  ])("refuses %s, naming it", (_what, extra, field) => {
    const result = check({ ...base, ...extra });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(new RegExp(`^${field}`));
  });

  it("names the field of a value out of range", () => {
    const result = check({ ...base, sampler: { movingPeriodMs: 10 } });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^sampler\.movingPeriodMs: /) });
  });

  it("refuses a config for another truck", () => {
    expect(check(base, "TRK-2")).toEqual({ ok: false, reason: "truckId: config is for TRK-1, not TRK-2" });
  });

  it("refuses a payload above the size limit before parsing it", () => {
    const big = JSON.stringify({ ...base, setAt: "x".repeat(REMOTE_CONFIG_MAX_BYTES) });
    expect(checkRemoteConfig(big, "TRK-1")).toEqual({
      ok: false,
      reason: expect.stringMatching(/larger than 4096/),
    });
  });

  it("refuses what is not JSON, and a missing version", () => {
    expect(checkRemoteConfig("{", "TRK-1")).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
    expect(check({ truckId: "TRK-1" })).toMatchObject({ ok: false, reason: expect.stringMatching(/^version: /) });
  });
});
