import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../common/errors.ts";
import { parseAgentConfig } from "./config.ts";
import { renderAgentConfigReference } from "./config-reference.ts";

describe("agent configuration", () => {
  it("docs/agent-config.md is generated from the schema (regenerate: npx tsx agent/config-reference.ts > docs/agent-config.md)", () => {
    const file = readFileSync(new URL("../docs/agent-config.md", import.meta.url), "utf8");
    expect(file).toBe(renderAgentConfigReference());
  });

  it("names the field and the file when a value is wrong, and refuses unknown fields", () => {
    const base = { truckId: "T1", broker: { url: "mqtt://h:1883" }, outbox: { dir: "/tmp/x" } };
    expect(parseAgentConfig(base).broker.keepaliveS).toBe(60);
    const bad = (() => {
      try {
        parseAgentConfig({ ...base, broker: { url: "mqtt://h:1883", keepaliveS: 5 } }, "/etc/fleetsync/agent.json");
      } catch (error) {
        return error;
      }
    })();
    expect(isFleetError(bad, "FLEET_CONFIG_INVALID")).toBe(true);
    expect((bad as Error).message).toContain("broker.keepaliveS");
    expect((bad as Error).message).toContain("/etc/fleetsync/agent.json");
    expect(() => parseAgentConfig({ ...base, outbx: {} })).toThrow(/outbx/);
  });
});
