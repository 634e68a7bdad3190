/**
 * Process tests run what production runs: the JavaScript `npm run build` makes, under `node` (issue 12), not the
 * TypeScript through tsx or npx. Wrappers such as npx and tsx are processes of their own that relay signals, so a
 * test that signals them tests the wrappers, and they cost seconds of start-up on a busy machine.
 *
 * The build happens once per test run, in the integration and fault suites' global setup, into a folder of its own
 * under node_modules/.cache (bare imports resolve to the checkout's node_modules from there; the shared dist/ is left
 * to the developer). The folder's path reaches the test workers, and the processes they start, in
 * FLEETSYNC_TEST_BUILD.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { copyStaticAssets } from "../../deploy/static-assets.ts";

export const BUILD_ENV = "FLEETSYNC_TEST_BUILD";
const REPO = resolve(import.meta.dirname, "../..");

function prepare(): { dir: string; args: string[] } {
  const dir = join(REPO, "node_modules/.cache/fleetsync-test", `${process.pid}-${randomBytes(3).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  // `fleetsync --version` reads ../../package.json from dist/cli/, and "type": "module" makes the .js files ESM.
  copyFileSync(join(REPO, "package.json"), join(dir, "package.json"));
  const tsc = join(REPO, "node_modules/typescript/bin/tsc");
  return { dir, args: [tsc, "-p", "tsconfig.build.json", "--outDir", join(dir, "dist")] };
}

/** Compiles tsconfig.build.json into a new folder and returns it (the folder holds dist/ and package.json). */
export async function buildFleetsync(): Promise<string> {
  const { dir, args } = prepare();
  try {
    await promisify(execFile)(process.execPath, args, { cwd: REPO, maxBuffer: 1 << 24 });
    copyStaticAssets(join(dir, "dist"));
  } catch (error) {
    removeBuild(dir);
    const { stdout } = error as { stdout?: string };
    throw new Error(`the build for process tests failed:\n${stdout ?? ""}`, { cause: error });
  }
  return dir;
}

export function removeBuild(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The node arguments that run `fleetsync`: the run's build when there is one (every vitest run of the integration
 * and fault suites), else the TypeScript source through tsx in the same node process (the demo and the benchmarks
 * when started by hand, where a 20 s build would only delay the user).
 */
export function fleetsyncCommand(): string[] {
  return nodeCommandFor("cli/fleetsync.ts");
}

/** The same for any program of the build, named by its source path (e.g. protocol/examples/consumer.ts). */
export function nodeCommandFor(source: string): string[] {
  const dir = process.env[BUILD_ENV];
  return dir ? [join(dir, "dist", source.replace(/\.ts$/, ".js"))] : ["--import", "tsx", join(REPO, source)];
}
