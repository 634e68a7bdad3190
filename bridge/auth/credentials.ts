/**
 * The per-truck credentials file: one salted scrypt hash per truck id, never a password in plain text.
 *
 * Format (JSON, mode 0600): { "version": 1, "trucks": { "<truckId>": "scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>" } }
 * The cost parameters travel with each hash, so they can be raised later without invalidating existing entries.
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { z } from "zod";
import { parseConfig } from "../../common/config.ts";
import { FleetError } from "../../common/errors.ts";
import { assertTruckId, TRUCK_ID_PATTERN } from "../../protocol/truck-id.ts";

/** RFC 7914 / OWASP: N=2^14, r=8, p=1 costs ~16 MiB and tens of ms per check. */
export const DEFAULT_SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const FileSchema = z
  .object({
    version: z.literal(1),
    trucks: z.record(z.string().regex(TRUCK_ID_PATTERN), z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/)),
  })
  .strict();

export type CredentialsFile = z.infer<typeof FileSchema>;

function scrypt(password: Buffer, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128*N*r bytes; leave headroom above Node's 32 MiB default for raised parameters.
    const maxmem = 256 * params.N * params.r + 1024 * 1024;
    scryptCb(password, salt, KEY_LENGTH, { ...params, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashSecret(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(Buffer.from(password, "utf8"), salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** Constant-time comparison of the derived key (crypto.timingSafeEqual), so timing reveals nothing about the hash. */
export async function verifySecret(encoded: string, password: Buffer): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = encoded.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const key = await scrypt(password, Buffer.from(salt, "base64"), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export async function readCredentialsFile(path: string): Promise<CredentialsFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, trucks: {} };
    throw new FleetError("FLEET_CONFIG_INVALID", `cannot read credentials file ${path}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FleetError("FLEET_CONFIG_INVALID", `credentials file ${path} is not JSON`, { cause: error });
  }
  return parseConfig(FileSchema, json, `credentials file ${path}`);
}

/** Adds or replaces one truck's entry; writes a temporary file and renames it, so a reader never sees half a file. */
export async function setTruckSecret(
  path: string,
  truckId: string,
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<void> {
  assertTruckId(truckId);
  const file = await readCredentialsFile(path);
  const trucks = { ...file.trucks, [truckId]: await hashSecret(password, params) };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, trucks }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

export interface CredentialStoreHooks {
  /** Called for each scrypt check actually run (a cache miss that no in-flight check could answer). */
  onHash?: () => void;
}

/**
 * Looks up and checks truck secrets, re-reading the file when its mtime changes (checked at most once a second),
 * so `add-truck` takes effect without restarting the bridge. After one successful scrypt check, an HMAC of the
 * accepted password under a random per-process key is remembered per truck (never the password itself): reconnect
 * storms (a cell tower coming back) would otherwise cost one scrypt (~tens of ms of CPU) per truck each time.
 */
export class CredentialStore {
  private file: CredentialsFile = { version: 1, trucks: {} };
  private mtimeMs = -1;
  private checkedAt = 0;
  private loading: Promise<void> | undefined;
  private readonly cacheKey = randomBytes(32);
  /** truckId -> the encoded hash it was verified against and the HMAC of the accepted password; bounded by the file. */
  private readonly accepted = new Map<string, { encoded: string; mac: Buffer }>();
  /**
   * (truck, hash, HMAC of the secret) -> its scrypt check while it runs. Bounded by the checks in flight, which
   * libuv's thread pool and the per-source and per-truck failure limits (limiter.ts) already bound.
   */
  private readonly checking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly path: string,
    private readonly hooks: CredentialStoreHooks = {},
  ) {}

  async load(): Promise<void> {
    const info = await stat(this.path).catch(() => undefined);
    this.file = await readCredentialsFile(this.path);
    this.mtimeMs = info?.mtimeMs ?? -1;
    this.checkedAt = Date.now();
    for (const truckId of this.accepted.keys()) if (!this.file.trucks[truckId]) this.accepted.delete(truckId);
  }

  private async refresh(): Promise<void> {
    if (Date.now() - this.checkedAt < 1000) return;
    this.loading ??= (async () => {
      try {
        const info = await stat(this.path).catch(() => undefined);
        this.checkedAt = Date.now();
        if ((info?.mtimeMs ?? -1) !== this.mtimeMs) await this.load();
      } finally {
        this.loading = undefined;
      }
    })();
    await this.loading;
  }

  async verify(truckId: string, password: Buffer | undefined): Promise<boolean> {
    await this.refresh();
    const encoded = this.file.trucks[truckId];
    if (!encoded || !password) return false;
    const mac = createHmac("sha256", this.cacheKey).update(password).digest();
    const known = this.accepted.get(truckId);
    if (known && known.encoded === encoded && timingSafeEqual(known.mac, mac)) return true;
    // One check per (truck, hash, secret) in flight: a reconnect storm brings the same truck's login several times
    // (a retry, a new connection while the old one closes) before the first check has filled the cache above.
    const key = `${truckId}\0${encoded}\0${mac.toString("base64")}`;
    let check = this.checking.get(key);
    if (!check) {
      this.hooks.onHash?.();
      check = verifySecret(encoded, password)
        .then((ok) => {
          if (ok) this.accepted.set(truckId, { encoded, mac });
          return ok;
        })
        // A settled check leaves: a wrong secret is checked again next time (only accepted ones are remembered).
        .finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    return check;
  }
}
