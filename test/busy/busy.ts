/**
 * `npm run test:busy`: the test suites on a busy machine, the way contributors' laptops and shared CI runners are.
 * Runs `npm test`, `npm run test:scenarios` and `npm run test:faults` with load beside them: one core kept busy by a spinning process
 * and the disk kept busy by fsync'd writes (test/busy/hog.ts). A test that passes only on a calm machine fails here.
 *
 *   npm run test:busy                      one round (npm test, test:scenarios, test:faults) under load
 *   npm run test:busy -- --repeat 5        five rounds in a row; stops at the first failure
 *   npm run test:busy -- --cpu 2 --no-disk two spinning cores, no disk load
 *   npm run test:busy -- --only test       only `npm test` (or `--only scenarios`, `--only faults`)
 *
 * Each round prints how long each suite took and the load average measured beside it; the last line sums up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const HOG = fileURLToPath(new URL("./hog.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

const { values } = parseArgs({
  options: {
    repeat: { type: "string", default: "1" },
    cpu: { type: "string", default: "1" },
    "no-disk": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const repeat = Number(values.repeat);
const cpuHogs = Number(values.cpu);
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat must be a whole number >= 1, got "${values.repeat}"`);
if (!Number.isInteger(cpuHogs) || cpuHogs < 0) fail(`--cpu must be a whole number >= 0, got "${values.cpu}"`);
const suites = [
  { key: "test", name: "npm test", args: ["test"] },
  { key: "scenarios", name: "npm run test:scenarios", args: ["run", "test:scenarios"] },
  { key: "faults", name: "npm run test:faults", args: ["run", "test:faults"] },
].filter((suite) => values.only === undefined || suite.key === values.only);
if (suites.length === 0) fail(`--only must be "test", "scenarios" or "faults", got "${values.only}"`);

function fail(message: string): never {
  process.stderr.write(`test:busy: ${message}\n`);
  process.exit(2);
}

// Every hog stops by itself after this long, even if this runner were killed with SIGKILL (it also watches us).
const HOG_MAX_SECONDS = 60 * 60 * repeat;
const hogs: ChildProcess[] = [];
function startHogs(): void {
  const kinds = [...Array<string>(cpuHogs).fill("cpu"), ...(values["no-disk"] ? [] : ["disk"])];
  for (const kind of kinds) {
    hogs.push(spawn(process.execPath, ["--import", "tsx", HOG, kind, String(HOG_MAX_SECONDS)], { stdio: "inherit" }));
  }
  process.stdout.write(`test:busy: load beside the tests: ${kinds.join(" + ") || "none"}\n`);
}
function stopHogs(): void {
  for (const hog of hogs) hog.kill("SIGTERM");
}

let current: ChildProcess | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopHogs();
    current?.kill(signal);
    process.exit(130);
  });
}

function run(args: string[]): Promise<number> {
  return new Promise((done) => {
    current = spawn("npm", args, { cwd: REPO, stdio: "inherit" });
    current.once("exit", (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/** Samples the 1-minute load average every 5 s while a suite runs. */
function sampleLoad() {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(loadavg()[0]!), 5_000);
  return () => {
    clearInterval(timer);
    if (samples.length === 0) return "n/a";
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    return `mean ${mean.toFixed(1)}, max ${Math.max(...samples).toFixed(1)}`;
  };
}

startHogs();
const results: string[] = [];
let passed = 0;
let failed = 0;
for (let round = 1; round <= repeat && failed === 0; round++) {
  for (const suite of suites) {
    const began = Date.now();
    const load = sampleLoad();
    const code = await run(suite.args);
    const line =
      `round ${round}/${repeat}: ${suite.name} ${code === 0 ? "passed" : `FAILED (exit ${code})`} in ` +
      `${((Date.now() - began) / 1000).toFixed(0)} s, load average ${load()}`;
    results.push(line);
    process.stdout.write(`\ntest:busy: ${line}\n`);
    if (code === 0) passed++;
    else {
      failed++;
      break;
    }
  }
}
stopHogs();
process.stdout.write(`\ntest:busy summary:\n${results.map((r) => `  ${r}`).join("\n")}\n`);
process.stdout.write(`busy: ${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
