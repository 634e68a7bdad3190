import { request } from "node:http";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { holdPort, inUse } from "../../test/support/held-port.ts";
import { silentLogger } from "../../common/log.ts";
import { lifecycleContract } from "../../test/support/lifecycle-contract.ts";
import { HttpConfigSchema } from "./config.ts";
import { createHttpServer } from "./http.ts";

describe("metrics and health endpoint", () => {
  lifecycleContract(
    () => {
      let answered: (() => void) | undefined;
      const asked = new Promise<void>((resolve) => (answered = resolve));
      const http = createHttpServer(HttpConfigSchema.parse({ host: "127.0.0.1", port: 0 }), {
        registry: new Registry(),
        // A readiness probe still waiting on Kafka when the server stops.
        ready: async () => {
          answered?.();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return { ready: true, reasons: [], notes: [] };
        },
        logger: silentLogger,
      });
      return {
        component: http,
        busy: async () => {
          const settled = new Promise<void>((resolve, reject) => {
            const req = request({ host: "127.0.0.1", port: http.address()!.port, path: "/readyz" }, (res) => {
              res.resume();
              res.on("end", resolve).on("error", reject);
            });
            req.on("error", reject);
            req.end();
          });
          await asked;
          return { settled };
        },
      };
    },
    { busy: true },
  );

  it("a port in use is a FLEET_CONFIG_INVALID naming http.port and the address, not Node's bare error", async () => {
    const held = await holdPort();
    const http = createHttpServer(HttpConfigSchema.parse({ host: "127.0.0.1", port: held.port }), {
      registry: new Registry(),
      ready: async () => ({ ready: true, reasons: [], notes: [] }),
      logger: silentLogger,
    });
    try {
      const error = await http.start().catch((e: unknown) => e);
      expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
      expect((error as Error).message).toBe(inUse("http.port", held.port));
    } finally {
      await http.stop();
      await held.release();
    }
  });
});
