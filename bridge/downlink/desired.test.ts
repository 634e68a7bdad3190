import { describe, expect, it } from "vitest";
import { REMOTE_CONFIG_MAX_BYTES } from "../../protocol/remote-config.ts";
import { DesiredConfigs } from "./desired.ts";

const value = (truckId: string, version: number) =>
  Buffer.from(JSON.stringify({ truckId, version, sampler: { movingPeriodMs: 2_500, parkedPeriodMs: 60_000 } }));

describe("desired configs kept by a bridge", () => {
  it("keeps the latest per truck; a tombstone removes it", () => {
    const desired = new DesiredConfigs(10);
    expect(desired.apply("T1", value("T1", 1))).toEqual({ kind: "set" });
    expect(desired.apply("T1", value("T1", 1))).toEqual({ kind: "unchanged" });
    expect(desired.apply("T1", value("T1", 2))).toEqual({ kind: "set" });
    expect(JSON.parse(desired.get("T1")!).version).toBe(2);
    expect(desired.apply("T1", null)).toEqual({ kind: "removed" });
    expect(desired.get("T1")).toBeUndefined();
    expect(desired.apply("T1", null)).toEqual({ kind: "unchanged" });
  });

  it("is bounded: no new truck beyond maxTrucks, no value beyond the size limit", () => {
    const desired = new DesiredConfigs(2);
    desired.apply("T1", value("T1", 1));
    desired.apply("T2", value("T2", 1));
    expect(desired.apply("T3", value("T3", 1))).toEqual({ kind: "refused", reason: "full" });
    expect(desired.apply("T1", value("T1", 2))).toEqual({ kind: "set" }); // known trucks still update
    const big = Buffer.alloc(REMOTE_CONFIG_MAX_BYTES + 1, 0x20);
    expect(desired.apply("T2", big)).toEqual({ kind: "refused", reason: "too-large" });
    expect(JSON.parse(desired.get("T2")!).version).toBe(1); // the previous one stays
    expect(desired.size).toBe(2);
  });

  it("does not keep the (large) buffer a value was read from", () => {
    const fetched = Buffer.alloc(1 << 20, 0x20);
    const text = JSON.stringify({ truckId: "T1", version: 1 });
    fetched.write(text, 0);
    const desired = new DesiredConfigs(1);
    desired.apply("T1", fetched.subarray(0, text.length));
    expect(desired.get("T1")).toBe(text);
  });
});
