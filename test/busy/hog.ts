/**
 * One load generator for `npm run test:busy`, run as its own process: `cpu` spins on one core, `disk` keeps the file
 * system busy with fsync'd writes (what an SD card or a shared CI disk feels like to LevelDB and Kafka).
 *
 * Bounded on purpose: it stops by itself after `--max-seconds`, and as soon as its parent is gone (checked every
 * second), so an interrupted run never leaves a hog behind. The disk hog rewrites one file of at most 8 MiB.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [kind, maxSecondsArg] = process.argv.slice(2);
const maxSeconds = Number(maxSecondsArg ?? 3600);
if ((kind !== "cpu" && kind !== "disk") || !(maxSeconds > 0)) {
  process.stderr.write("usage: hog.ts cpu|disk MAX_SECONDS\n");
  process.exit(2);
}

const parent = process.ppid;
const endAt = Date.now() + maxSeconds * 1000;
const parentAlive = () => {
  try {
    process.kill(parent, 0);
    return true;
  } catch {
    return false;
  }
};

let dir: string | undefined;
const finish = () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", finish);
process.on("SIGINT", finish);

/** Works in slices of ~50 ms and yields between them so the signal handlers and the checks below still run. */
function slice(): void {
  if (Date.now() > endAt || !parentAlive()) finish();
  const until = Date.now() + 50;
  if (kind === "cpu") {
    let x = 0;
    while (Date.now() < until) x = (x * 31 + 7) % 1_000_003;
    if (x < 0) process.stdout.write(""); // keeps the loop from being optimised away
  } else {
    dir ??= mkdtempSync(join(tmpdir(), "fleetsync-busy-"));
    const block = Buffer.alloc(64 * 1024, 0x5a);
    const fd = openSync(join(dir, "hog.bin"), "w");
    for (let written = 0; written < 8 * 1024 * 1024 && Date.now() < until; written += block.length) {
      writeSync(fd, block);
      fsyncSync(fd);
    }
    closeSync(fd);
  }
  setImmediate(slice);
}
slice();
