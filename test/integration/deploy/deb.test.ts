/**
 * The gateway .deb packages: built the way `npm run package:deb` builds them (the same script, from a fresh
 * compile into a temporary folder), then opened with dpkg-deb and checked file by file. The arm64 and armhf
 * packages must hold native addons for their own machine only (ELF e_machine read from the files themselves);
 * the amd64 one, unpacked, must run `fleetsync --version` with nothing but its own files and the system Node.
 * A real `apt-get install` of the amd64 package is in deb-install.test.ts (`npm run test:deb-install`).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ELF_MACHINES } from "../../../deploy/deb/elf.ts";
import { findElfFiles } from "../../../deploy/deb/stage.ts";
import { BUILD_ENV } from "../../support/build.ts";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");
const ARCHES = ["amd64", "arm64", "armhf"] as const;

interface Built {
  arch: string;
  file: string;
  bytes: number;
}

let work: string;
let debs: Map<string, Built>;
const unpacked = new Map<string, string>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "fleetsync-deb-test-"));
  const began = Date.now();
  // The test run's build (test/support/build.ts: `npm run build` into a folder of its own, made by the global setup
  // while Kafka starts) is what gets packaged; compiling it again here took 9 s of the file's 31 s. Run on its own,
  // outside the global setup, the file compiles into its temp folder (never the shared dist/, others may read it).
  const testBuild = process.env[BUILD_ENV];
  const dist = testBuild ? join(testBuild, "dist") : join(work, "dist");
  if (!testBuild) await run("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", dist], { cwd: repoRoot });
  const compiled = Date.now();
  const { stdout } = await run(
    "npx",
    // gzip instead of the release default xz: identical contents, about 6 times faster to compress.
    ["tsx", "deploy/deb/build.ts", "--skip-build", "--compression", "gzip", "--dist", dist, "--out", join(work, "out")],
    { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
  );
  const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as { debs: Built[] };
  debs = new Map(summary.debs.map((d) => [d.arch, d]));
  for (const arch of ARCHES) {
    const root = join(work, `root-${arch}`);
    await run("dpkg-deb", ["-x", debs.get(arch)!.file, root]);
    unpacked.set(arch, root);
  }
  process.stderr.write(
    `deb: compile ${compiled - began} ms, 3 packages ${Date.now() - compiled} ms, sizes ` +
      `${summary.debs.map((d) => `${d.arch} ${(d.bytes / 1e6).toFixed(1)} MB`).join(", ")}\n`,
  );
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function field(arch: string, name: string): Promise<string> {
  const { stdout } = await run("dpkg-deb", ["--field", debs.get(arch)!.file, name]);
  return stdout.trim();
}

describe("fleetsync .deb packages", () => {
  it.each(ARCHES)("%s: control file names the package, its architecture and Node.js >= 20", async (arch) => {
    expect(await field(arch, "Package")).toBe("fleetsync");
    expect(await field(arch, "Architecture")).toBe(arch);
    expect(await field(arch, "Depends")).toMatch(/(^|, )nodejs \(>= 20\)/);
    // SocketCAN: the agent runs can-utils' candump and iproute2's ip.
    expect(await field(arch, "Depends")).toMatch(/(^|, )can-utils(,|$)/);
    expect(await field(arch, "Depends")).toMatch(/(^|, )iproute2(,|$)/);
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    expect(await field(arch, "Version")).toBe(pkg.version.replace("-", "~"));
    const { stdout } = await run("dpkg-deb", ["-I", debs.get(arch)!.file]);
    for (const script of ["postinst", "prerm", "postrm"]) expect(stdout).toContain(script);
  });

  it.each([
    ["arm64", ELF_MACHINES.aarch64, 64],
    ["armhf", ELF_MACHINES.arm, 32],
    ["amd64", ELF_MACHINES.x86_64, 64],
  ] as const)("%s: every native file is for that machine, and both addons are there", async (arch, machine, bits) => {
    const elves = await findElfFiles(unpacked.get(arch)!);
    expect(elves.map((e) => `${e.path} ${e.machine}/${e.bits}`)).toEqual(
      elves.map((e) => `${e.path} ${machine}/${bits}`),
    );
    if (arch !== "amd64") expect(elves.some((e) => e.machine === ELF_MACHINES.x86_64)).toBe(false);
    const paths = elves.map((e) => e.path);
    expect(paths.some((p) => p.includes("/classic-level/prebuilds/"))).toBe(true);
    expect(paths.some((p) => p.includes("/@serialport/bindings-cpp/prebuilds/"))).toBe(true);
    // Nothing for Alpine (musl), and no other platform's folder.
    expect(paths.filter((p) => p.includes(".musl.") || /prebuilds\/(darwin|win32|android)/.test(p))).toEqual([]);
  });

  it("the independent `file` tool agrees on the arm64 and armhf addons", async () => {
    for (const [arch, expected] of [
      ["arm64", /ELF 64-bit LSB shared object, ARM aarch64/],
      ["armhf", /ELF 32-bit LSB shared object, ARM, EABI5/],
    ] as const) {
      const elves = await findElfFiles(unpacked.get(arch)!);
      for (const elf of elves) {
        const { stdout } = await run("file", ["-b", join(unpacked.get(arch)!, elf.path)]);
        expect(stdout, elf.path).toMatch(expected);
      }
    }
  });

  it.each(ARCHES)(
    "%s: holds the program, the wrapper, the units, the udev rules and the provisioning",
    async (arch) => {
      const root = unpacked.get(arch)!;
      const executable = [
        "usr/bin/fleetsync",
        "usr/lib/fleetsync/dist/cli/fleetsync.js",
        "usr/lib/fleetsync/firstboot",
      ];
      for (const path of executable) expect((await stat(join(root, path))).mode & 0o111, path).toBe(0o111);
      for (const path of [
        "usr/lib/fleetsync/package.json",
        "usr/lib/systemd/system/fleetsync-agent.service",
        "usr/lib/systemd/system/fleetsync-firstboot.service",
        "usr/lib/systemd/system/fleetsync-socketcan.service",
        "usr/lib/udev/rules.d/70-fleetsync.rules",
        "usr/lib/sysusers.d/fleetsync.conf",
        "usr/lib/modules-load.d/fleetsync.conf",
        "usr/share/fleetsync/restart-backoff.conf",
        "usr/share/doc/fleetsync/installer-guide.md",
        "usr/share/doc/fleetsync/examples/fleetsync.json",
      ]) {
        expect((await stat(join(root, path))).isFile(), path).toBe(true);
      }
      const wrapper = await readFile(join(root, "usr/bin/fleetsync"), "utf8");
      expect(wrapper).toContain("/usr/lib/fleetsync/dist/cli/fleetsync.js");
      const appPkg = JSON.parse(await readFile(join(root, "usr/lib/fleetsync/package.json"), "utf8")) as {
        type: string;
      };
      expect(appPkg.type).toBe("module");
      // Development-only packages stay out.
      for (const dev of ["vitest", "typescript", "tsx", "prettier"]) {
        await expect(stat(join(root, "usr/lib/fleetsync/node_modules", dev)), dev).rejects.toThrow();
      }
    },
  );

  it("the packages are small: only one architecture's addons, no sources or test suites", async () => {
    for (const arch of ARCHES) expect(debs.get(arch)!.bytes, arch).toBeLessThan(4 * 1024 * 1024);
    const root = unpacked.get("amd64")!;
    await expect(stat(join(root, "usr/lib/fleetsync/node_modules/classic-level/deps"))).rejects.toThrow();
    // Test-only code (the outbox contract suite, the protocol's fast-check arbitraries) is not compiled in.
    const dist = join(root, "usr/lib/fleetsync/dist");
    const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith(".js"));
    expect(files.length).toBeGreaterThan(20);
    const testOnly: string[] = [];
    for (const file of files) {
      const text = await readFile(join(dist, file), "utf8");
      if (/from "(vitest|fast-check)"|\.contract\.js"/.test(text)) testOnly.push(file);
    }
    expect(testOnly).toEqual([]);
  });

  it("amd64, unpacked: runs `fleetsync --version` and loads LevelDB from its own node_modules", async () => {
    const app = join(unpacked.get("amd64")!, "usr/lib/fleetsync");
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const { stdout } = await run("node", [join(app, "dist/cli/fleetsync.js"), "--version"]);
    expect(stdout.trim()).toBe(`fleetsync ${pkg.version}`);
    // The prebuilt LevelDB addon loads and writes a store, from the package's copy (cwd = the package).
    const db = join(work, "level-probe");
    const script = `const { ClassicLevel } = await import("classic-level");
      const db = new ClassicLevel(${JSON.stringify(db)}); await db.put("k", "v");
      process.stdout.write(await db.get("k")); await db.close();
      process.stdout.write(" " + (await import("node:module")).createRequire(import.meta.url).resolve("classic-level"));`;
    const probe = await run("node", ["--input-type=module", "-e", script], { cwd: app });
    expect(probe.stdout).toBe(`v ${join(app, "node_modules/classic-level/index.js")}`);
  });
});

/**
 * The packaged first-boot provisioning, run from the unpacked amd64 package against temporary folders standing in
 * for the boot partition and /etc/fleetsync (the environment overrides exist for this). The validation inside is
 * the real one: the package's check-config.mjs loading the compiled agent schema.
 */
describe("first-boot provisioning from the boot partition", () => {
  let n = 0;
  async function scene() {
    const base = join(work, `firstboot-${++n}`);
    const boot = join(base, "boot");
    const etc = join(base, "etc");
    await mkdir(boot, { recursive: true });
    const calls = join(base, "systemctl.calls");
    const systemctl = join(base, "systemctl");
    // This machine runs no systemd: a recorder stands in for systemctl, so the test sees what was asked of it.
    await writeFile(systemctl, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 });
    const firstboot = async () => {
      const app = join(unpacked.get("amd64")!, "usr/lib/fleetsync");
      const env = {
        ...process.env,
        FLEETSYNC_BOOT_DIRS: `${join(base, "nowhere")} ${boot}`,
        FLEETSYNC_CONFIG_DIR: etc,
        FLEETSYNC_GROUP: "root",
        FLEETSYNC_LIBDIR: app,
        FLEETSYNC_SYSTEMCTL: systemctl,
      };
      return run(join(app, "firstboot"), [], { env }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    };
    const config = (overrides: Record<string, unknown> = {}) => {
      const example = JSON.parse(exampleText) as Record<string, unknown> & { broker: Record<string, unknown> };
      return JSON.stringify({ ...example, broker: { ...example.broker, caFile: join(etc, "ca.crt") }, ...overrides });
    };
    return { boot, etc, calls, firstboot, config };
  }
  let exampleText: string;
  let caPem: string;
  beforeAll(async () => {
    exampleText = await readFile(
      join(unpacked.get("amd64")!, "usr/share/doc/fleetsync/examples/fleetsync.json"),
      "utf8",
    );
    const key = join(work, "ca.key");
    const cert = join(work, "ca.crt");
    await run(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
        "-keyout",
        key,
        "-out",
        cert,
        "-subj",
        "/CN=FleetSync test CA",
        "-days",
        "2",
      ]),
    );
    caPem = await readFile(cert, "utf8");
  });

  it("the shipped example passes the agent's own schema", async () => {
    const app = join(unpacked.get("amd64")!, "usr/lib/fleetsync");
    const example = join(app, "../../share/doc/fleetsync/examples/fleetsync.json");
    const { stdout } = await run("node", [join(app, "check-config.mjs"), example]);
    expect(stdout).toBe("TRUCK-0042\n/etc/fleetsync/ca.crt\n");
  });

  it("a valid file and CA: installed 0640, original and CA moved off the card, receipt left, agent enabled", async () => {
    const s = await scene();
    const text = s.config();
    await writeFile(join(s.boot, "fleetsync.json"), text);
    await writeFile(join(s.boot, "fleetsync-ca.crt"), caPem);
    const result = await s.firstboot();
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(await readFile(join(s.etc, "agent.json"), "utf8")).toBe(text);
    expect((await stat(join(s.etc, "agent.json"))).mode & 0o777).toBe(0o640);
    expect((await stat(s.etc)).mode & 0o777).toBe(0o750);
    expect(await readFile(join(s.etc, "ca.crt"), "utf8")).toBe(caPem);
    expect((await stat(join(s.etc, "imported/fleetsync.json"))).mode & 0o777).toBe(0o600);
    expect((await readdir(s.boot)).sort()).toEqual(["fleetsync-imported.txt"]);
    expect(await readFile(join(s.boot, "fleetsync-imported.txt"), "utf8")).toContain("truck TRUCK-0042");
    expect((await readFile(s.calls, "utf8")).trim().split("\n")).toEqual([
      "enable fleetsync-agent.service",
      "restart --no-block fleetsync-agent.service",
    ]);
  });

  it("re-provisioning replaces the config atomically and keeps the previous one, root only", async () => {
    const s = await scene();
    await writeFile(join(s.boot, "fleetsync-ca.crt"), caPem);
    await writeFile(join(s.boot, "fleetsync.json"), s.config());
    expect((await s.firstboot()).code).toBe(0);
    const second = s.config({ truckId: "TRUCK-0043" });
    await writeFile(join(s.boot, "fleetsync.json"), second);
    expect((await s.firstboot()).code).toBe(0);
    expect(JSON.parse(await readFile(join(s.etc, "agent.json"), "utf8")).truckId).toBe("TRUCK-0043");
    expect(JSON.parse(await readFile(join(s.etc, "agent.json.previous"), "utf8")).truckId).toBe("TRUCK-0042");
    expect((await stat(join(s.etc, "agent.json.previous"))).mode & 0o777).toBe(0o600);
  });

  it("an invalid file is refused: renamed, an error file on the card names the field, nothing installed", async () => {
    const s = await scene();
    await writeFile(join(s.boot, "fleetsync-ca.crt"), caPem);
    await writeFile(join(s.boot, "fleetsync.json"), s.config({ truckId: "truck 42!" }));
    const result = await s.firstboot();
    expect(result.code).toBe(1);
    expect((await readdir(s.boot)).sort()).toEqual([
      "fleetsync-ca.crt",
      "fleetsync-error.txt",
      "fleetsync.json.rejected",
    ]);
    const error = await readFile(join(s.boot, "fleetsync-error.txt"), "utf8");
    expect(error).toMatch(/truckId/);
    expect(error).toContain("rename it back to fleetsync.json");
    await expect(stat(join(s.etc, "agent.json"))).rejects.toThrow();
    await expect(stat(s.calls)).rejects.toThrow();
  });

  it("a config naming a CA that is neither installed nor on the card is refused with that reason", async () => {
    const s = await scene();
    await writeFile(join(s.boot, "fleetsync.json"), s.config());
    const result = await s.firstboot();
    expect(result.code).toBe(1);
    expect(await readFile(join(s.boot, "fleetsync-error.txt"), "utf8")).toContain("fleetsync-ca.crt");
    await expect(stat(join(s.etc, "agent.json"))).rejects.toThrow();
  });

  it("no file on the boot partition: nothing happens", async () => {
    const s = await scene();
    const result = await s.firstboot();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("nothing to do");
    await expect(stat(s.etc)).rejects.toThrow();
  });
});
