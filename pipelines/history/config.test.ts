import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { parseHistoryConfig } from "./config.ts";

describe("history configuration", () => {
  it("fills the defaults without touching the caller's object", () => {
    const input = { kafka: { brokers: ["127.0.0.1:9092"] }, database: { url: "postgres://u@h/db" } };
    const frozen = JSON.stringify(input);
    const config = parseHistoryConfig(input);
    expect(JSON.stringify(input)).toBe(frozen);
    expect(config.groupId).toBe("fleetsync-history");
    expect(config.topics).toEqual({ telemetry: "fleet.telemetry", events: "fleet.events" });
    expect(config.database.statementTimeoutMs).toBe(30_000);
    expect(config.fromBeginning).toBe(true);
  });

  it("names the field that is wrong and the source", () => {
    let error: unknown;
    try {
      parseHistoryConfig(
        { kafka: { brokers: ["b:1"] }, database: { url: "postgres://x", statementTimeoutMs: -1 } },
        "history.json",
      );
    } catch (e) {
      error = e;
    }
    expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toMatch(/^history\.json: database\.statementTimeoutMs: /);
    expect(() => parseHistoryConfig({ kafka: { brokers: ["b:1"] } })).toThrow(/database/);
  });
});
