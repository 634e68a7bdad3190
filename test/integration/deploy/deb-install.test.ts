/**
 * A real install of the amd64 .deb on this machine, the way an installer installs it on a Pi:
 * `apt-get install ./fleetsync_<v>_amd64.deb` (apt resolves nodejs and udev), then the installed `fleetsync`
 * runs `--version` and `doctor --json`, the maintainer scripts have created the service user and enabled the
 * units, the installed first-boot script provisions a configuration with the right owner and mode, and a purge
 * takes it all away again.
 *
 * It changes the machine (a package, a system user) and needs root and apt, so it runs only when asked:
 *   npm run test:deb-install      (sets FLEETSYNC_DEB_INSTALL=1)
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");
const enabled = process.env.FLEETSYNC_DEB_INSTALL === "1";
const APT = ["-o", "DPkg::Lock::Timeout=300", "-y", "--no-install-recommends"];
// dpkg-query's own ${Field} format syntax, not a JavaScript template.

const STATUS_FORMAT = "-f=${Status} ${Version} ${Architecture}";

let work: string;
let version: string;
/** Packages installed before the test, so the test can remove exactly what apt added for it (udev, ...). */
let before: Set<string> | undefined;

async function installedPackages(): Promise<Set<string>> {
  const { stdout } = await run("dpkg-query", ["-W", "-f=${db:Status-Abbrev} ${Package}\n"], { maxBuffer: 1 << 24 });
  return new Set(
    stdout
      .split("\n")
      .filter((l) => l.startsWith("ii "))
      .map((l) => l.split(/\s+/)[1]!),
  );
}
const timings: Record<string, number> = {};

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const began = Date.now();
  try {
    return await work();
  } finally {
    timings[name] = Date.now() - began;
  }
}

describe.skipIf(!enabled)("fleetsync .deb installed on this machine (amd64)", () => {
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("the install test needs root (dpkg, useradd)");
    const installed = await run("dpkg-query", ["-W", STATUS_FORMAT, "fleetsync"]).catch(() => ({ stdout: "" }));
    if (installed.stdout.startsWith("install ok installed")) {
      throw new Error("fleetsync is already installed here; remove it first (apt-get purge fleetsync)");
    }
    before = await installedPackages();
    work = await mkdtemp(join(tmpdir(), "fleetsync-deb-install-"));
    version = (JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    await timed("compile", () =>
      run("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", join(work, "dist")], { cwd: repoRoot }),
    );
    const args = ["tsx", "deploy/deb/build.ts", "--skip-build", "--arch", "amd64", "--compression", "gzip"];
    await timed("package", () =>
      run("npx", [...args, "--dist", join(work, "dist"), "--out", work], { cwd: repoRoot, maxBuffer: 1 << 24 }),
    );
    await timed("apt-install", () =>
      run("apt-get", ["install", ...APT, join(work, `fleetsync_${version.replace("-", "~")}_amd64.deb`)], {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        maxBuffer: 1 << 24,
      }),
    );
  }, 600_000);

  afterAll(async () => {
    await timed("purge", () =>
      run("apt-get", ["purge", ...APT, "fleetsync"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }),
    ).catch(() => undefined);
    // Leave the machine as it was: purge what apt pulled in for the package (udev on a container), nothing else.
    if (before) {
      const known = before;
      const added = [...(await installedPackages())].filter((p) => !known.has(p));
      if (added.length > 0) {
        await run("apt-get", ["purge", ...APT, ...added], {
          env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        }).catch((error: Error) => process.stderr.write(`could not purge ${added.join(" ")}: ${error.message}\n`));
      }
      process.stderr.write(`deb-install: removed again what the install added: ${added.join(" ") || "nothing"}\n`);
    }
    if (work) await rm(work, { recursive: true, force: true });
    process.stderr.write(`deb-install timings (ms): ${JSON.stringify(timings)}\n`);
  }, 300_000);

  it("dpkg knows it as installed, and the wrapper runs `fleetsync --version`", async () => {
    const { stdout } = await run("dpkg-query", ["-W", STATUS_FORMAT, "fleetsync"]);
    expect(stdout).toBe(`install ok installed ${version.replace("-", "~")} amd64`);
    const which = await run("sh", ["-c", "command -v fleetsync"]);
    expect(which.stdout.trim()).toBe("/usr/bin/fleetsync");
    expect((await run("fleetsync", ["--version"])).stdout.trim()).toBe(`fleetsync ${version}`);
  });

  it("`fleetsync doctor --json` runs and prints JSON (its checks may fail here: no GPS, no CAN)", async () => {
    const result = await timed("doctor", () =>
      run("fleetsync", ["doctor", "--json"], { timeout: 120_000, maxBuffer: 1 << 24 }).then(
        (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
        (failed: { code?: number; stdout?: string; stderr?: string }) => ({
          code: failed.code ?? -1,
          stdout: failed.stdout ?? "",
          stderr: failed.stderr ?? "",
        }),
      ),
    );
    // Exit code 2 would be a usage error (no such command or flag): that is the one outcome that is not "ran".
    expect(result.code, result.stderr).not.toBe(2);
    expect(() => JSON.parse(result.stdout), `stdout was: ${result.stdout}\nstderr: ${result.stderr}`).not.toThrow();
    // One object with a verdict and the steps it ran; no configuration is installed yet, so that step is not a pass.
    const report = JSON.parse(result.stdout) as { ok: boolean; steps: { step: string; status: string }[] };
    expect(typeof report.ok).toBe("boolean");
    expect(report.steps.length).toBeGreaterThan(0);
    expect(report.steps.find((s) => s.step === "configuration")?.status).not.toBe("pass");
  });

  it("postinst created the service user in dialout and the config folder, and enabled the units", async () => {
    const passwd = (await run("getent", ["passwd", "fleetsync"])).stdout.trim().split(":");
    expect(passwd[5]).toBe("/var/lib/fleetsync");
    expect(passwd[6]).toMatch(/nologin$/);
    expect((await run("id", ["-nG", "fleetsync"])).stdout.split(/\s+/)).toContain("dialout");
    const etc = await stat("/etc/fleetsync");
    expect(etc.mode & 0o777).toBe(0o750);
    expect((await run("stat", ["-c", "%U:%G", "/etc/fleetsync"])).stdout.trim()).toBe("root:fleetsync");
    for (const unit of ["fleetsync-agent.service", "fleetsync-firstboot.service"]) {
      const link = join("/etc/systemd/system/multi-user.target.wants", unit);
      expect((await run("readlink", [link])).stdout.trim()).toMatch(new RegExp(`/lib/systemd/system/${unit}$`));
    }
  });

  it("the installed units pass `systemd-analyze verify` without a warning", async () => {
    const units = ["fleetsync-agent", "fleetsync-firstboot", "fleetsync-socketcan"].map(
      (u) => `/usr/lib/systemd/system/${u}.service`,
    );
    const { stderr } = await run("systemd-analyze", ["verify", ...units]);
    expect(stderr.trim()).toBe("");
  });

  it("the installed first-boot script installs a configuration that only root and the agent can read", async () => {
    // The real /etc/fleetsync of this install; only the boot partition is a temporary folder (this machine's
    // /boot is not ours to write).
    const boot = join(work, "boot");
    await mkdir(boot);
    const example = await readFile("/usr/share/doc/fleetsync/examples/fleetsync.json", "utf8");
    await writeFile(join(boot, "fleetsync.json"), example);
    await run(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
        "-keyout",
        join(work, "ca.key"),
        "-out",
        join(boot, "fleetsync-ca.crt"),
        "-subj",
        "/CN=test CA",
        "-days",
        "2",
      ]),
    );
    const calls = join(work, "systemctl.calls");
    const systemctl = join(work, "systemctl");
    // This machine runs no systemd; record what the script asks of it instead.
    await writeFile(systemctl, `#!/bin/sh\necho "$*" >> ${calls}\n`);
    await chmod(systemctl, 0o755);
    await run("/usr/lib/fleetsync/firstboot", [], {
      env: { ...process.env, FLEETSYNC_BOOT_DIRS: boot, FLEETSYNC_SYSTEMCTL: systemctl },
    });
    const config = "/etc/fleetsync/agent.json";
    expect(await readFile(config, "utf8")).toBe(example);
    expect((await stat(config)).mode & 0o777).toBe(0o640);
    expect((await run("stat", ["-c", "%U:%G", config])).stdout.trim()).toBe("root:fleetsync");
    await expect(run("runuser", ["-u", "fleetsync", "--", "cat", config])).resolves.toBeDefined();
    await expect(run("runuser", ["-u", "nobody", "--", "cat", config])).rejects.toThrow();
    await expect(run("runuser", ["-u", "fleetsync", "--", "cat", "/etc/fleetsync/ca.crt"])).resolves.toBeDefined();
    await expect(stat(join(boot, "fleetsync.json"))).rejects.toThrow();
    expect(await readFile(calls, "utf8")).toContain("enable fleetsync-agent.service");
  });

  it("a purge removes the program, the units and /etc/fleetsync", async () => {
    await run("apt-get", ["purge", ...APT, "fleetsync"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    await expect(stat("/usr/bin/fleetsync")).rejects.toThrow();
    await expect(stat("/usr/lib/systemd/system/fleetsync-agent.service")).rejects.toThrow();
    await expect(stat("/etc/fleetsync")).rejects.toThrow();
    await expect(stat("/etc/systemd/system/multi-user.target.wants/fleetsync-agent.service")).rejects.toThrow();
  });
});
