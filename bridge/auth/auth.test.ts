import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "aedes";
import { describe, expect, it } from "vitest";
import { isFleetError } from "../../common/errors.ts";
import { silentLogger } from "../../common/log.ts";
import { lifecycleContract } from "../../test/support/lifecycle-contract.ts";
import { createAuth } from "./auth.ts";
import { AuthConfigSchema } from "./config.ts";
import { setTruckSecret } from "./credentials.ts";

/** What authenticate reads of an Aedes client: its id and its socket's address. */
const client = (id: string) => ({ id, conn: { remoteAddress: "127.0.0.1" } }) as unknown as Client;

function authenticate(auth: ReturnType<typeof createAuth>, id: string): Promise<boolean> {
  return new Promise((resolve, reject) =>
    auth.authenticate(client(id), id, Buffer.from("secret"), (error, ok) => (error ? reject(error) : resolve(!!ok))),
  );
}

describe("auth", () => {
  lifecycleContract(async () => {
    const dir = await mkdtemp(join(tmpdir(), "fleetsync-auth-"));
    const credentialsFile = join(dir, "credentials.json");
    await setTruckSecret(credentialsFile, "truck-1", "secret", { N: 1024, r: 8, p: 1 });
    const auth = createAuth(AuthConfigSchema.parse({ credentialsFile }), { logger: silentLogger });
    return {
      component: auth,
      call: () => authenticate(auth, "truck-1"),
      // A login whose password check (scrypt) is running when auth stops: it still gets its answer.
      busy: async () => ({ settled: authenticate(auth, "truck-1") }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
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
