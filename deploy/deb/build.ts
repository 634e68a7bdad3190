/**
 * `npm run package:deb`: builds fleetsync_<version>_<arch>.deb for amd64, arm64 and armhf with dpkg-deb.
 *
 *   tsx deploy/deb/build.ts [--arch amd64,arm64,armhf] [--out dist/deb] [--compression xz|gzip]
 *                           [--skip-build] [--dist DIR]   (package an existing build instead of running one)
 *
 * One machine builds all three: the JavaScript is the same everywhere, and the native addons come from the
 * prebuilds their npm packages ship for every platform (npm here runs no install scripts, so nothing is compiled).
 * Each package is checked before it is written: every ELF file in it must be for its architecture.
 * The last line printed is one JSON object describing the packages, for CI and the test.
 */
import { execFile, spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseCommandArgs } from "../../cli/commands.ts";
import { FleetError } from "../../common/errors.ts";
import { checkNativeCode, installedSizeKiB, productionPackages, stagePackage } from "./stage.ts";
import { DEB_TARGETS, type DebTarget, debTarget } from "./targets.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");

export interface BuiltDeb {
  arch: DebTarget["deb"];
  file: string;
  bytes: number;
  installedKiB: number;
  /** Native files in the package, relative to its root, with their ELF machine. */
  nativeFiles: { path: string; machineName: string; bits: number }[];
  ms: number;
}

/** Debian version from an npm version: a semver pre-release sorts before its release only with "~". */
export function debVersion(npmVersion: string): string {
  return npmVersion.replace("-", "~");
}

function control(target: DebTarget, version: string, installedKiB: number): string {
  return [
    "Package: fleetsync",
    `Version: ${version}`,
    `Architecture: ${target.deb}`,
    `Maintainer: ${process.env.DEB_MAINTAINER ?? "FleetSync maintainers <fleetsync@localhost>"}`,
    `Installed-Size: ${installedKiB}`,
    // udev: the stable adapter names, and serialport's port listing (doctor) runs `udevadm info -e`.
    // can-utils: the agent reads a SocketCAN interface (a Pi CAN HAT, a candleLight stick) through candump; iproute2:
    // its ip reports whether the interface is up and listen-only, and brings it up so.
    "Depends: nodejs (>= 20), udev, can-utils, iproute2",
    "Section: misc",
    "Priority: optional",
    "Description: FleetSync truck gateway: serial GPS and CAN telemetry to MQTT and Kafka",
    " Reads NMEA GPS and J1939/OBD-II engine data from serial adapters, keeps every record in",
    " an on-disk outbox until the broker has acknowledged it, and publishes over MQTT.",
    " Includes the fleetsync command line (agent, doctor, provision, decode), the systemd",
    " units, udev rules for common GPS and CAN adapters, and boot-partition provisioning.",
    "",
  ].join("\n");
}

export type Compression = "xz" | "gzip";

interface BuildOneOptions {
  target: DebTarget;
  distDir: string;
  version: string;
  packages: string[];
  outDir: string;
  compression: Compression;
}

async function buildOne(options: BuildOneOptions): Promise<BuiltDeb> {
  const { target, version, outDir, compression } = options;
  const began = Date.now();
  const root = await mkdtemp(join(tmpdir(), `fleetsync-deb-${target.deb}-`));
  try {
    await stagePackage({ repoRoot, distDir: options.distDir, target, root, packages: options.packages, version });
    const elves = await checkNativeCode(root, target);
    const installedKiB = await installedSizeKiB(root);
    await mkdir(join(root, "DEBIAN"));
    await writeFile(join(root, "DEBIAN/control"), control(target, version, installedKiB));
    for (const script of ["postinst", "prerm", "postrm"]) {
      await cp(join(here, "maintainer", script), join(root, "DEBIAN", script));
      await chmod(join(root, "DEBIAN", script), 0o755);
    }
    const file = join(outDir, `fleetsync_${version}_${target.deb}.deb`);
    // --root-owner-group: every file root:root without fakeroot.
    await run("dpkg-deb", ["--root-owner-group", `-Z${compression}`, "--build", root, file], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return {
      arch: target.deb,
      file,
      bytes: (await stat(file)).size,
      installedKiB,
      nativeFiles: elves.map(({ path, machineName, bits }) => ({ path, machineName, bits })),
      ms: Date.now() - began,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function npmBuild(): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn("npm", ["run", "build"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolvePromise()
        : reject(new FleetError("FLEET_PACKAGE", `npm run build failed (exit code ${code}); no package was built`)),
    );
  });
}

export interface BuildDebsOptions {
  arches: DebTarget[];
  outDir: string;
  /** Run `npm run build` first. */
  build: boolean;
  /** Where the compiled program is; default repoRoot/dist, where `npm run build` writes it. */
  distDir?: string;
  /** xz (default: about 30 % smaller, for trucks updated over cellular) or gzip (about 6 times faster to build). */
  compression: Compression;
}

export async function buildDebs(options: BuildDebsOptions): Promise<BuiltDeb[]> {
  if (options.build) await npmBuild();
  const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
  const version = debVersion(pkg.version);
  const packages = await productionPackages(repoRoot);
  await mkdir(options.outDir, { recursive: true });
  const built: BuiltDeb[] = [];
  for (const target of options.arches) {
    const distDir = options.distDir ?? join(repoRoot, "dist");
    const { outDir, compression } = options;
    built.push(await buildOne({ target, distDir, version, packages, outDir, compression }));
  }
  return built;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      arch: { type: "string", default: DEB_TARGETS.map((t) => t.deb).join(",") },
      out: { type: "string", default: join(repoRoot, "dist/deb") },
      "skip-build": { type: "boolean", default: false },
      compression: { type: "string", default: "xz" },
      dist: { type: "string" },
    },
  });
  if (values.compression !== "xz" && values.compression !== "gzip") {
    throw new FleetError("FLEET_USAGE", `--compression must be xz or gzip, not ${JSON.stringify(values.compression)}`);
  }
  const arches = values.arch.split(",").map((name) => debTarget(name.trim()));
  const built = await buildDebs({
    arches,
    outDir: resolve(values.out),
    build: !values["skip-build"],
    compression: values.compression,
    ...(values.dist === undefined ? {} : { distDir: resolve(values.dist) }),
  });
  for (const deb of built) {
    const mb = (deb.bytes / 1024 / 1024).toFixed(1);
    const natives = deb.nativeFiles.map((n) => n.machineName).join(", ");
    process.stderr.write(
      `${deb.file}: ${mb} MB (installed ${Math.round(deb.installedKiB / 1024)} MB), native: ${natives}, ${deb.ms} ms\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ debs: built })}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`package:deb: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
