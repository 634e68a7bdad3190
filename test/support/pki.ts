/**
 * Certificates for tests, made with openssl in a folder: CAs, server certificates for localhost, client
 * certificates whose CN is a truck id. P-256 keys: openssl makes them in milliseconds, unlike RSA. Valid 2 days.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PemFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  /** A self-signed CA: `<name>.pem` and `<name>.key` in the folder. Returns their paths. */
  ca(name: string, cn: string): PemFiles;
  /**
   * A certificate with this CN signed by the CA `by`; `server: true` makes it valid for localhost / 127.0.0.1.
   * `days` (default 2): -1 gives a certificate that expired as it was made (its end lies before its start).
   */
  issue(name: string, cn: string, by: string, options?: { server?: boolean; days?: number }): PemFiles;
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function testPki(dir: string): TestPki {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const files = (name: string): PemFiles => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  return {
    ca(name, cn) {
      openssl(
        "req",
        "-x509",
        ...KEY,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "2",
        "-subj",
        `/CN=${cn}`,
      );
      return files(name);
    },
    issue(name, cn, by, options = {}) {
      openssl("req", ...KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
      const extensions: string[] = [];
      if (options.server) {
        writeFileSync(join(dir, `${name}.ext`), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        extensions.push("-extfile", `${name}.ext`);
      }
      openssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${by}.pem`,
        "-CAkey",
        `${by}.key`,
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        String(options.days ?? 2),
        ...extensions,
      );
      return files(name);
    },
  };
}

/** The common case: a CA (`ca.pem`) and a server certificate for localhost signed by it. Paths. */
export function serverPki(dir: string): { ca: string; cert: string; key: string } {
  const pki = testPki(dir);
  const ca = pki.ca("ca", "FleetSync test CA");
  return { ca: ca.cert, ...pki.issue("server", "localhost", "ca", { server: true }) };
}
