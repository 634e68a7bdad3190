import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderBridgeConfigReference } from "./config-reference.ts";

describe("bridge configuration reference", () => {
  it("docs/bridge-config.md is generated from the schema (regenerate: npx tsx bridge/config-reference.ts > docs/bridge-config.md)", () => {
    const file = readFileSync(new URL("../docs/bridge-config.md", import.meta.url), "utf8");
    expect(file).toBe(renderBridgeConfigReference());
  });

  it("documents every field of every component, with the contract's topic names as defaults", () => {
    const text = renderBridgeConfigReference();
    for (const field of ["listener.maxPacketBytes", "auth.blockMs", "kafka.brokers", "forwarder.drainTimeoutMs"]) {
      expect(text).toContain(`\`${field}\``);
    }
    expect(text).toContain('"telemetry": "fleet.telemetry"');
  });
});
