import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { silentLogger } from "../../common/log.ts";
import { holdPort, inUse } from "../../test/support/held-port.ts";
import { createOpsServer } from "./http.ts";

describe("pipelines' ops server", () => {
  it("a port in use is a FLEET_CONFIG_INVALID naming http.port and the address, not Node's bare error", async () => {
    const held = await holdPort();
    const ops = createOpsServer(
      { host: "127.0.0.1", port: held.port },
      { registry: new Registry(), ready: () => true, logger: silentLogger },
    );
    try {
      const error = await ops.start().catch((e: unknown) => e);
      expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
      expect((error as Error).message).toBe(inUse("http.port", held.port));
    } finally {
      await ops.stop();
      await held.release();
    }
  });
});
