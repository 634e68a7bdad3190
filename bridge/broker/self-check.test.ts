import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { checkEngines, probeEngines } from "./self-check.ts";

describe("broker self-check", () => {
  it("accepts the installed Aedes and mqtt-packet", () => {
    const facts = probeEngines();
    expect(facts.versions.aedes).toMatch(/^1\./);
    expect(facts.versions["mqtt-packet"]).toMatch(/^9\./);
    expect(() => checkEngines(facts)).not.toThrow();
  });

  it("refuses another major version with FLEET_ENGINE_UNSUPPORTED naming the versions", () => {
    const facts = { ...probeEngines(), versions: { aedes: "2.0.0-beta.1", "mqtt-packet": "9.0.2" } };
    let caught: unknown;
    try {
      checkEngines(facts);
    } catch (error) {
      caught = error;
    }
    expect(isFleetError(caught, "FLEET_ENGINE_UNSUPPORTED")).toBe(true);
    expect((caught as Error).message).toContain("aedes 2.0.0-beta.1 is installed, expected 1.x");
    expect((caught as Error).message).toContain("mqtt-packet 9.0.2");
  });

  it("refuses a connection whose parser internals are not the ones the read guard and MQTT 5 adapter use", () => {
    const facts = { ...probeEngines(), client: { _parser: { parse: "not a function" } } };
    expect(() => checkEngines(facts)).toThrow(/no _parser\.parse\(\).*not an event emitter.*no settings/);
    expect(() => checkEngines({ ...probeEngines(), client: {} })).toThrow(/FLEET_ENGINE_UNSUPPORTED|_parser/);
  });

  it("refuses an mqtt-packet without writeToStream (the MQTT 5 writer wraps it)", () => {
    expect(() => checkEngines({ ...probeEngines(), writeToStream: undefined })).toThrow(/no writeToStream/);
  });
});
