import { describe, expect, it } from "vitest";
import { checkPublish, maySubscribe } from "./acl.ts";

describe("ACL of the topic contract", () => {
  it("lets a truck publish only under its own id, to telemetry, events and status", () => {
    expect(checkPublish("T1", "fleetsync/v1/T1/telemetry")).toEqual({ ok: true, kind: "telemetry" });
    expect(checkPublish("T1", "fleetsync/v1/T1/events")).toEqual({ ok: true, kind: "events" });
    expect(checkPublish("T1", "fleetsync/v1/T1/status")).toEqual({ ok: true, kind: "status" });
    expect(checkPublish("T1", "fleetsync/v1/T2/telemetry").ok).toBe(false);
    expect(checkPublish("T1", "fleetsync/v1/T1/config").ok).toBe(false);
    expect(checkPublish("T1", "fleetsync/v1/T1/config/confirm").ok).toBe(false);
    expect(checkPublish("T1", "$SYS/x").ok).toBe(false);
    expect(checkPublish("T1", "fleetsync/v1/T1/telemetry/extra").ok).toBe(false);
  });

  it("lets a truck subscribe only to its own config and confirmation topics, no wildcards", () => {
    expect(maySubscribe("T1", "fleetsync/v1/T1/config")).toBe(true);
    expect(maySubscribe("T1", "fleetsync/v1/T1/config/confirm")).toBe(true);
    expect(maySubscribe("T1", "fleetsync/v1/T2/config")).toBe(false);
    expect(maySubscribe("T1", "fleetsync/v1/+/config")).toBe(false);
    expect(maySubscribe("T1", "#")).toBe(false);
    expect(maySubscribe("T1", "fleetsync/v1/T1/telemetry")).toBe(false);
  });
});
