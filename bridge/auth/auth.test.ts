import type { Client } from "aedes";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { silentLogger } from "../../common/log.ts";
import { lifecycleContract } from "../../test/support/lifecycle-contract.ts";
import { createAuth } from "./auth.ts";
import { AuthConfigSchema } from "./config.ts";

/** What authenticate reads of an Aedes client: its id and its socket's address. */
const client = (id: string) => ({ id, conn: { remoteAddress: "127.0.0.1" } }) as unknown as Client;

function authenticate(auth: ReturnType<typeof createAuth>, id: string): Promise<boolean> {
  return new Promise((resolve, reject) =>
    auth.authenticate(client(id), id, Buffer.from("secret"), (error, ok) => (error ? reject(error) : resolve(!!ok))),
  );
}

describe("auth", () => {
  lifecycleContract(() => {
    const auth = createAuth(AuthConfigSchema.parse({}), { logger: silentLogger });
    return { component: auth, call: () => authenticate(auth, "truck-1") };
  });

  it("refuses a login after stop with FLEET_CLOSED and CONNACK 3 (server unavailable), not a credential check", async () => {
    const auth = createAuth(AuthConfigSchema.parse({}), { logger: silentLogger });
    await auth.start();
    await auth.stop();
    const refused = await authenticate(auth, "truck-1").catch((error: unknown) => error);
    expect(isFleetError(refused, "FLEET_CLOSED")).toBe(true);
    expect((refused as { returnCode: number }).returnCode).toBe(3);
    expect(auth.limiter.isBlocked("127.0.0.1", "truck-1")).toBe(false);
  });
});
