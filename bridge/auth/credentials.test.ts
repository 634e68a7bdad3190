import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CredentialStore, hashSecret, setTruckSecret, verifySecret } from "./credentials.ts";

const FAST = { N: 1024, r: 8, p: 1 };

describe("credentials file", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("stores salted scrypt hashes, never the password, and verifies them", async () => {
    const a = await hashSecret("s3cret-password", FAST);
    const b = await hashSecret("s3cret-password", FAST);
    expect(a).not.toBe(b); // salted
    expect(a).not.toContain("s3cret");
    expect(await verifySecret(a, Buffer.from("s3cret-password"))).toBe(true);
    expect(await verifySecret(a, Buffer.from("s3cret-passworD"))).toBe(false);
  });

  it("add-truck writes a 0600 file that a running store picks up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "creds-"));
    dirs.push(dir);
    const file = join(dir, "c.json");
    await setTruckSecret(file, "T1", "password-one", FAST);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).not.toContain("password-one");
    const store = new CredentialStore(file);
    await store.load();
    expect(await store.verify("T1", Buffer.from("password-one"))).toBe(true);
    expect(await store.verify("T1", Buffer.from("password-two"))).toBe(false);
    expect(await store.verify("T2", Buffer.from("password-one"))).toBe(false);
    await expect(setTruckSecret(file, "bad id!", "x", FAST)).rejects.toMatchObject({ code: "FLEET_TRUCK_ID_INVALID" });
  });

  it("runs one scrypt check for logins of the same truck and secret that arrive while it is in flight", async () => {
    // A reconnect storm: the truck's previous connection is still being torn down and the new one, plus a retry,
    // log in at once. Before the first check finished, the verified cache could not help and each login hashed.
    const dir = await mkdtemp(join(tmpdir(), "creds-"));
    dirs.push(dir);
    const file = join(dir, "c.json");
    await setTruckSecret(file, "T1", "password-one", FAST);
    await setTruckSecret(file, "T2", "password-two", FAST);
    let hashes = 0;
    const store = new CredentialStore(file, { onHash: () => (hashes += 1) });
    await store.load();
    const logins = [
      ...Array.from({ length: 8 }, () => store.verify("T1", Buffer.from("password-one"))),
      ...Array.from({ length: 3 }, () => store.verify("T1", Buffer.from("wrong"))),
      ...Array.from({ length: 3 }, () => store.verify("T2", Buffer.from("password-two"))),
    ];
    expect(await Promise.all(logins)).toEqual([
      ...Array(8).fill(true),
      ...Array(3).fill(false),
      ...Array(3).fill(true),
    ]);
    // One per (truck, secret): T1 right, T1 wrong, T2.
    expect(hashes).toBe(3);
    // Settled checks leave nothing behind: a wrong secret is checked again (it is not cached), a right one is not.
    expect(await store.verify("T1", Buffer.from("wrong"))).toBe(false);
    expect(await store.verify("T1", Buffer.from("password-one"))).toBe(true);
    expect(hashes).toBe(4);
  });
});
