import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseConfig } from "./config.ts";
import { isFleetError } from "./errors.ts";

const Schema = z
  .object({ port: z.number().int(), tls: z.object({ certFile: z.string() }).strict().optional() })
  .strict();

describe("parseConfig (the one config-error formatter)", () => {
  it("names the source and every bad field in FLEET_CONFIG_INVALID", () => {
    let caught: unknown;
    try {
      parseConfig(Schema, { port: "x", tls: { certFile: 1 }, extra: true }, "/etc/fleetsync/bridge.json");
    } catch (error) {
      caught = error;
    }
    expect(isFleetError(caught, "FLEET_CONFIG_INVALID")).toBe(true);
    const message = (caught as Error).message;
    expect(message).toMatch(/^\/etc\/fleetsync\/bridge\.json: port: /);
    expect(message).toContain("tls.certFile: ");
    expect(message).toContain("(root): ");
    expect((caught as { details: { issues: unknown[] } }).details.issues).toHaveLength(3);
  });

  it("returns the parsed value and leaves the caller's object as it was", () => {
    const input = { port: 1883 };
    const frozen = Object.freeze({ ...input });
    expect(parseConfig(Schema, frozen, "x")).toEqual({ port: 1883 });
    expect(frozen).toEqual(input);
  });
});
