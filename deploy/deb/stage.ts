/**
 * Lays out one architecture's package tree in a staging folder: the built JavaScript, the production dependencies
 * (with only that architecture's native prebuilds), the Pi's systemd units, udev rules and scripts, and the docs.
 *
 *   /usr/bin/fleetsync                      wrapper: exec node /usr/lib/fleetsync/dist/cli/fleetsync.js
 *   /usr/lib/fleetsync/{package.json,dist,node_modules}
 *   /usr/lib/fleetsync/firstboot            boot-partition provisioning (deploy/pi/firstboot.sh)
 *   /usr/lib/fleetsync/check-config.mjs     validates a config file with the agent's schema (for firstboot)
 *   /usr/lib/systemd/system/fleetsync-*.service
 *   /usr/lib/udev/rules.d/70-fleetsync.rules
 *   /usr/lib/sysusers.d/fleetsync.conf, /usr/lib/modules-load.d/fleetsync.conf
 *   /usr/share/fleetsync/restart-backoff.conf
 *   /usr/share/doc/fleetsync/...
 */
import { execFile } from "node:child_process";
import { chmod, cp, lstat, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { FleetError } from "../../common/errors.ts";
import { readElfHeader } from "./elf.ts";
import { type DebTarget, keepPrebuild } from "./targets.ts";

const run = promisify(execFile);

/** The compiled folders that make up the program: tsconfig.build.json's include list, so the two cannot drift. */
async function distComponents(repoRoot: string): Promise<string[]> {
  const config = JSON.parse(await readFile(join(repoRoot, "tsconfig.build.json"), "utf8")) as { include?: unknown };
  const include = Array.isArray(config.include) ? config.include.filter((i) => typeof i === "string") : [];
  if (!include.includes("cli")) {
    throw new FleetError("FLEET_PACKAGE", "tsconfig.build.json's include list has no cli folder: nothing to package");
  }
  return include;
}

/** Files a running program never reads: TypeScript sources and declarations, source maps, C/C++ build inputs. */
const DROPPED_EXTENSIONS = [".ts", ".mts", ".cts", ".map", ".c", ".cc", ".cpp", ".h", ".hpp", ".gyp", ".gypi"];
/** Licence texts stay (the licences of the bundled packages require it); other Markdown is documentation. */
const LICENCE_FILE = /^(licen[cs]e|copying|notice)/i;
/** Folders no dependency loads at run time. classic-level/deps is LevelDB's C++ source (about 5 MB). */
const DROPPED_DIRS = new Set([".github", "deps"]);
/** A package's own test suites and examples, at its top level only (bintrees' tests alone are 2.3 MB). */
const DROPPED_TOP_DIRS = new Set(["test", "tests", "__tests__", "example", "examples", "benchmark", "benchmarks"]);

export interface StageOptions {
  repoRoot: string;
  /** The compiled program (`npm run build` writes repoRoot/dist). */
  distDir: string;
  target: DebTarget;
  /** Empty folder that becomes the package root. */
  root: string;
  /** Production dependency folders, relative to repoRoot (from productionPackages()). */
  packages: string[];
  version: string;
}

/**
 * Dependencies only the cloud's live map uses (its page's assets: the map library, the world outline and its
 * decoder, with what only they pull in). A truck never serves the map, and they would double the package's size.
 */
const CLOUD_ONLY_PACKAGES = new Set(["leaflet", "world-atlas", "topojson-client", "commander"]);

/** The installed production dependencies, as `npm ls --omit=dev --all --parseable` lists them, less cloud-only ones. */
export async function productionPackages(repoRoot: string): Promise<string[]> {
  // npm ls exits non-zero for problems such as an extraneous package, yet still lists the tree; check the list.
  const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable"], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
  const dirs = stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => relative(repoRoot, line))
    .filter((dir) => dir.startsWith(`node_modules${sep}`))
    .filter((dir) => !CLOUD_ONLY_PACKAGES.has(dir.split(sep).at(-1)!));
  if (dirs.length === 0) {
    throw new FleetError("FLEET_PACKAGE", "npm ls listed no production dependencies: run `npm ci` first");
  }
  for (const dir of dirs) {
    await stat(join(repoRoot, dir)).catch((cause) => {
      throw new FleetError("FLEET_PACKAGE", `production dependency ${dir} is not installed: run \`npm ci\``, { cause });
    });
  }
  return dirs.sort();
}

/** Whether a file or folder of a dependency goes into the package. `inside` is the path below the package dir. */
export function keepDependencyPath(target: DebTarget, inside: string, isDirectory: boolean): boolean {
  if (inside === "") return true;
  const parts = inside.split(sep);
  // Nested node_modules are listed by npm ls as packages of their own, and copied as such.
  if (parts[0] === "node_modules") return false;
  const prebuilds = parts.indexOf("prebuilds");
  if (prebuilds >= 0 && prebuilds < parts.length - 1) {
    return keepPrebuild(target, parts.slice(prebuilds + 1).join("/"));
  }
  const name = parts[parts.length - 1]!;
  if (isDirectory) return !DROPPED_DIRS.has(name) && !(parts.length === 1 && DROPPED_TOP_DIRS.has(name));
  if (name.endsWith(".md")) return LICENCE_FILE.test(name);
  if (name === "binding.gyp") return false;
  return !DROPPED_EXTENSIONS.some((ext) => name.endsWith(ext));
}

async function copyDependency(opts: StageOptions, dir: string, appDir: string): Promise<void> {
  const from = join(opts.repoRoot, dir);
  await cp(from, join(appDir, dir), {
    recursive: true,
    verbatimSymlinks: true,
    filter: async (source) => {
      const info = await lstat(source);
      return keepDependencyPath(opts.target, relative(from, source), info.isDirectory());
    },
  });
}

async function copyInto(from: string, to: string, mode: number): Promise<void> {
  await mkdir(join(to, ".."), { recursive: true });
  await cp(from, to);
  await chmod(to, mode);
}

/** A package.json for the installed program: "type": "module" for the ESM build, and the version `--version` shows. */
async function appPackageJson(repoRoot: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>;
  const kept = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    type: pkg.type,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  return `${JSON.stringify(kept, null, 2)}\n`;
}

const WRAPPER = `#!/bin/sh
# fleetsync: the FleetSync command line (installed by the fleetsync package).
exec /usr/bin/node /usr/lib/fleetsync/dist/cli/fleetsync.js "$@"
`;

export async function stagePackage(opts: StageOptions): Promise<void> {
  const { repoRoot, root } = opts;
  const appDir = join(root, "usr/lib/fleetsync");
  const pi = join(repoRoot, "deploy/pi");

  for (const component of await distComponents(repoRoot)) {
    const from = join(opts.distDir, component);
    await stat(from).catch((cause) => {
      throw new FleetError("FLEET_PACKAGE", `build output ${from} is missing: run \`npm run build\``, { cause });
    });
    await cp(from, join(appDir, "dist", component), {
      recursive: true,
      filter: (source) => !source.endsWith(".map"),
    });
  }
  await chmod(join(appDir, "dist/cli/fleetsync.js"), 0o755);
  await writeFile(join(appDir, "package.json"), await appPackageJson(repoRoot));
  for (const dir of opts.packages) await copyDependency(opts, dir, appDir);

  await mkdir(join(root, "usr/bin"), { recursive: true });
  await writeFile(join(root, "usr/bin/fleetsync"), WRAPPER, { mode: 0o755 });
  await copyInto(join(pi, "firstboot.sh"), join(appDir, "firstboot"), 0o755);
  await copyInto(join(pi, "check-config.mjs"), join(appDir, "check-config.mjs"), 0o644);
  for (const unit of ["fleetsync-agent.service", "fleetsync-firstboot.service", "fleetsync-socketcan.service"]) {
    await copyInto(join(pi, unit), join(root, "usr/lib/systemd/system", unit), 0o644);
  }
  await copyInto(join(pi, "70-fleetsync.rules"), join(root, "usr/lib/udev/rules.d/70-fleetsync.rules"), 0o644);
  await copyInto(join(pi, "sysusers.conf"), join(root, "usr/lib/sysusers.d/fleetsync.conf"), 0o644);
  await copyInto(join(pi, "modules-load.conf"), join(root, "usr/lib/modules-load.d/fleetsync.conf"), 0o644);
  await copyInto(join(pi, "restart-backoff.conf"), join(root, "usr/share/fleetsync/restart-backoff.conf"), 0o644);

  const doc = join(root, "usr/share/doc/fleetsync");
  await copyInto(join(repoRoot, "docs/installer-guide.md"), join(doc, "installer-guide.md"), 0o644);
  await copyInto(join(pi, "fleetsync.example.json"), join(doc, "examples/fleetsync.json"), 0o644);
  await copyInto(join(pi, "71-fleetsync-local.rules.example"), join(doc, "examples/71-fleetsync-local.rules"), 0o644);
  await writeFile(join(doc, "copyright"), copyright(opts.version), { mode: 0o644 });
}

function copyright(version: string): string {
  return [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Upstream-Name: fleetsync",
    "",
    "Files: *",
    "License: Apache-2.0",
    `Comment: FleetSync ${version}. Bundled Node.js packages in /usr/lib/fleetsync/node_modules keep their own`,
    " licence files and package.json licence fields.",
    "",
  ].join("\n");
}

export interface ElfFinding {
  path: string;
  bits: number;
  machine: number;
  machineName: string;
}

/** Every ELF file under `dir` (native addons, and anything else a dependency brought). */
export async function findElfFiles(dir: string): Promise<ElfFinding[]> {
  const found: ElfFinding[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const header = await readElfHeader(path);
    if (header) found.push({ path: relative(dir, path), ...header });
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Refuses a staged tree that holds native code for another architecture, or lacks the two addons FleetSync
 * cannot run without (LevelDB for the outbox, serialport for the sources).
 */
export async function checkNativeCode(root: string, target: DebTarget): Promise<ElfFinding[]> {
  const elves = await findElfFiles(root);
  const wrong = elves.filter((e) => e.machine !== target.elfMachine || e.bits !== target.elfBits);
  if (wrong.length > 0) {
    const list = wrong.map((e) => `${e.path} (${e.machineName}, ${e.bits}-bit)`).join(", ");
    throw new FleetError("FLEET_PACKAGE", `the ${target.deb} package holds native code for another machine: ${list}`);
  }
  for (const addon of ["classic-level", "bindings-cpp"]) {
    if (!elves.some((e) => e.path.includes(`${sep}${addon}${sep}prebuilds${sep}`))) {
      throw new FleetError(
        "FLEET_PACKAGE",
        `the ${target.deb} package has no ${addon} addon for ${target.prebuildDir}`,
      );
    }
  }
  return elves;
}

/** Installed-Size for the control file: the tree's size in KiB, as dpkg counts it. */
export async function installedSizeKiB(root: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return Math.ceil(bytes / 1024);
}
