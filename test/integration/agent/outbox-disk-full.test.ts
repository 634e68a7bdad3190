/**
 * The outbox on a disk that fills and empties again (issue 13.3): a real LevelDB on a real 2 MiB tmpfs, the broker
 * unreachable (nothing is acknowledged until the drain at the end). Promises held here:
 * - the budget sees the file system: the disk never reaches ENOSPC by the outbox's own doing; the oldest records go,
 *   each drop announced by a `disk-full` gap event;
 * - when something else fills the disk, stop() still finishes within its bound;
 * - a restart on a full disk opens (the ballast gives LevelDB room) and can drain what it has;
 * - no seq is ever reused, and every committed record either comes back or lies inside an announced gap.
 * Needs root to mount the tmpfs (CI runs as root); skipped otherwise, with the reason printed.
 */
import { execFileSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, open, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutbox, type Outbox, OutboxConfigSchema, type TelemetryBody } from "../../../agent/outbox/index.ts";
import type { EventRecord } from "../../../protocol/index.ts";
import { waitFor } from "../../support/wait.ts";
import { createLogger } from "../../../common/log.ts";
import { type AgentProcess, nmeaEpoch, ptyPair, spawnAgent, waitStarted, writeConfig } from "./process.ts";

const isRoot = process.getuid?.() === 0;
const TRUCK = "DISK-1";

function body(i: number): TelemetryBody {
  return {
    ts: new Date(Date.UTC(2026, 10, 30, 6, 0, 0) + i * 1000).toISOString(),
    timeSource: "gnss",
    gps: { fix: "3d", lat: 52.5 + i / 1e6, lon: 13.4, altM: 40, speedKmh: 50, courseDeg: 90, sats: 9, hdop: 0.9 },
    engine: { engineSpeedRpm: 1200 + (i % 100), coolantTempC: 88 },
  };
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Another program filling the disk: writes until ENOSPC. Returns the bytes written. */
async function fillDisk(path: string): Promise<number> {
  const handle = await open(path, "a");
  const chunk = Buffer.alloc(4096, 0x41);
  let written = 0;
  try {
    for (;;) {
      await handle.write(chunk);
      written += chunk.length;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await handle.close();
  }
  return written;
}

/** Resolves with the value, or fails naming what did not finish in time (instead of hanging the test). */
async function inTime<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!isRoot)("outbox on a 2 MiB tmpfs that fills and empties again (real LevelDB)", () => {
  let mount = "";
  let mounted = false;
  const open_: Outbox[] = [];
  const config = () =>
    OutboxConfigSchema.parse({
      dir: join(mount, "outbox"),
      diskReserveBytes: 640 * 1024,
      ballastBytes: 192 * 1024,
      commitIntervalMs: 20,
      stopTimeoutMs: 2_000,
    });
  const make = () => {
    const o = createOutbox(config(), { truckId: TRUCK, logger: createLogger("outbox", "warn") });
    open_.push(o);
    return o;
  };
  /** Every telemetry seq an append resolved with (= committed, and so readable and sendable). */
  const committed = new Set<number>();
  let highestGiven = -1;

  async function appendMany(o: Outbox, from: number, count: number): Promise<number[]> {
    const settled = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => o.append("telemetry", body(from + i))),
    );
    const seqs = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    for (const seq of seqs) {
      expect(seq, "a seq is never handed out twice").toBeGreaterThan(highestGiven);
      highestGiven = seq;
      committed.add(seq);
    }
    return seqs;
  }

  beforeAll(async () => {
    mount = await mkdtemp(join(tmpdir(), "fleetsync-diskfull-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
    mounted = true;
  });
  afterAll(async () => {
    for (const o of open_) await o.stop().catch(() => {});
    if (mounted) execFileSync("umount", ["-l", mount]);
    await rm(mount, { recursive: true, force: true });
  });

  it("drops the oldest with announced gaps, stops in time, opens full, drains, and never reuses a seq", async () => {
    // 1. The broker is unreachable and records keep coming: ~4x what the disk holds.
    const first = make();
    await first.start();
    for (let i = 0; i < 40; i++) await inTime(appendMany(first, i * 1000, 1000), 20_000, `append batch ${i}`);
    const s1 = first.stats();
    expect(s1.commitErrors, "the outbox never ran the disk into ENOSPC itself").toBe(0);
    expect(s1.channels.telemetry.dropped).toBeGreaterThan(20_000);
    expect(await freeBytes(mount)).toBeGreaterThan(128 * 1024);
    const events1 = (await first.read("events", 0, 10_000)) as EventRecord[];
    const diskGaps = events1.filter((e) => e.type === "gap" && e.reason === "disk-full");
    expect(diskGaps.length).toBeGreaterThan(0);
    expect(diskGaps.reduce((n, g) => n + (g.type === "gap" ? g.count : 0), 0)).toBe(s1.channels.telemetry.dropped);

    // 2. Another program fills the disk to the last byte: commits fail and records wait (bounded); when the space
    // comes back, they are written without a restart (LevelDB refuses writes after a failed sync: it is reopened).
    await fillDisk(join(mount, "filler-0"));
    const waiting = appendMany(first, 40_000, 200);
    await waitFor(() => first.stats().commitErrors > 0, "a commit failing on the full disk", { timeoutMs: 20_000 });
    await rm(join(mount, "filler-0"));
    expect((await inTime(waiting, 30_000, "the waiting records written once there is room")).length).toBe(200);
    process.stdout.write(`healed without a restart: reopens ${first.stats().reopens}\n`);

    // 3. It fills to the last byte again, and stays full: stop() still finishes in its bound.
    const errorsBefore = first.stats().commitErrors;
    await fillDisk(join(mount, "filler-1"));
    void appendMany(first, 40_200, 200);
    await waitFor(() => first.stats().commitErrors > errorsBefore, "a commit failing again", { timeoutMs: 20_000 });
    await fillDisk(join(mount, "filler-1")); // whatever the outbox freed meanwhile
    const stopBegan = Date.now();
    await inTime(first.stop(), 2_000 + 2 * 2_000 + 3_000, "stop() on a full disk");
    process.stdout.write(`stop on a full disk took ${Date.now() - stopBegan} ms\n`);

    // 4. Space comes back; a restart opens, sets its ballast aside again, and stops cleanly.
    await rm(join(mount, "filler-1"));
    const second = make();
    await second.start();
    await appendMany(second, 50_000, 100);
    await second.stop();

    // 5. The disk fills while the agent is stopped; it starts on the full disk and drains what it has.
    await fillDisk(join(mount, "filler-2"));
    expect(await freeBytes(mount)).toBeLessThan(8 * 1024);
    const third = make();
    await inTime(third.start(), 10_000, "start() on a full disk");
    const drained: number[] = [];
    for (;;) {
      const rows = await third.read("telemetry", (drained.at(-1) ?? -1) + 1, 500);
      if (rows.length === 0) break;
      drained.push(...rows.map((r) => r.seq));
      // As the uplink does: acknowledgements are kept in memory and deleted once the disk takes writes again.
      void third.ack("telemetry", rows.at(-1)!.seq);
    }
    const events3 = (await third.read("events", 0, 100_000)) as EventRecord[];
    await inTime(third.stop(), 2_000 + 2 * 2_000 + 3_000, "stop() after a drain on a full disk");

    // 6. The disk empties; new records get seqs above every seq ever committed.
    await rm(join(mount, "filler-2"));
    const fourth = make();
    await fourth.start();
    const fresh = await appendMany(fourth, 60_000, 100);
    expect(fresh.length).toBe(100);
    const events4 = (await fourth.read("events", 0, 100_000)) as EventRecord[];
    const newest = (await fourth.read("telemetry", 0, 100_000)).map((r) => r.seq);
    await fourth.stop();

    const gapEvents = [...events1, ...events3, ...events4].filter((e) => e.type === "gap");
    const byReason: Record<string, number> = {};
    for (const e of gapEvents) if (e.type === "gap") byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
    process.stdout.write(
      `disk-full run: committed ${committed.size}, dropped ${s1.channels.telemetry.dropped} in phase 1, drained ${drained.length} on the full disk, gap events ${JSON.stringify(byReason)}, first fresh seq ${fresh[0]} after highest committed before ${Math.max(...[...committed].filter((x) => x < fresh[0]!))}\n`,
    );
    // Every committed record came back in the drain or later, or lies inside an announced gap.
    const gaps = [...events1, ...events3, ...events4].flatMap((e) =>
      e.type === "gap" && e.channel === "telemetry" ? [[e.fromSeq, e.toSeq] as const] : [],
    );
    const seen = new Set([...drained, ...newest]);
    const unexplained = [...committed].filter((seq) => !seen.has(seq) && !gaps.some(([a, b]) => seq >= a && seq <= b));
    expect(unexplained.slice(0, 20), `${unexplained.length} committed records lost without a gap event`).toEqual([]);
  }, 180_000);
});

if (!isRoot) {
  process.stdout.write("outbox-disk-full: skipped, mounting a tmpfs needs root\n");
}

describe.skipIf(!isRoot)("the agent process on a 2 MiB tmpfs that fills (broker unreachable)", () => {
  let mount = "";
  let mounted = false;
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    if (mounted) execFileSync("umount", ["-l", mount]);
    if (mount) await rm(mount, { recursive: true, force: true });
  });

  it("drops with announced gaps, exits on SIGTERM in time with the disk full, and starts again on it", async () => {
    mount = await mkdtemp(join(tmpdir(), "fleetsync-diskfull-proc-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
    mounted = true;
    const work = await mkdtemp(join(tmpdir(), "fleetsync-diskfull-work-"));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const gps = await ptyPair(work, "gps");
    cleanups.push(() => gps.close());
    const file = await writeConfig(work, {
      truckId: "DISK-PROC-1",
      broker: { url: "mqtt://127.0.0.1:9", protocolVersion: 4, reconnectMinMs: 200, reconnectMaxMs: 1000 },
      outbox: {
        dir: join(mount, "outbox"),
        diskReserveBytes: 640 * 1024,
        ballastBytes: 192 * 1024,
        commitIntervalMs: 50,
        stopTimeoutMs: 2_000,
      },
      gps: { path: gps.device, baudRate: 115200 },
      sampler: { minIntervalMs: 0, movingPeriodMs: 0, parkedPeriodMs: 0, tickMs: 3_600_000 },
      // Not the default port 9108: another agent on the machine (a demo, another run) may hold it.
      metrics: { enabled: false },
    });
    // A receiver streaming 10 epochs every 10 ms: a record per epoch, far more than 2 MiB in a minute.
    let epoch = 0;
    const out = createWriteStream(gps.feed, { flags: "w" });
    out.on("error", () => {}); // the pty may go before the stream does
    const feeding = setInterval(() => {
      let chunk = "";
      for (let k = 0; k < 10; k++) chunk += nmeaEpoch(epoch++);
      out.write(chunk);
    }, 10);
    cleanups.push(async () => {
      clearInterval(feeding);
      out.destroy();
    });
    const spawnOne = () => {
      const agent = spawnAgent(file, { logLevel: "info" });
      cleanups.push(async () => {
        if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill("SIGKILL");
        await agent.exited;
      });
      return agent;
    };
    const logged = (agent: AgentProcess, msg: string) => agent.logs.some((l) => l.msg === msg);

    const first = spawnOne();
    await waitStarted(first);
    await waitFor(() => logged(first, "disk full: dropped the oldest records"), "a disk-full drop", {
      timeoutMs: 90_000,
    });
    expect(logged(first, "outbox commit failed; retrying"), "no ENOSPC of the outbox's own doing").toBe(false);

    await fillDisk(join(mount, "filler"));
    await waitFor(() => logged(first, "outbox commit failed; retrying"), "a commit failing on the full disk", {
      timeoutMs: 20_000,
    });
    await fillDisk(join(mount, "filler"));
    const sent = Date.now();
    first.child.kill("SIGTERM");
    const exit = await inTime(first.exited, 20_000, "the agent's exit on SIGTERM with the disk full");
    process.stdout.write(`agent SIGTERM on a full disk: exit ${exit.code} after ${exit.at - sent} ms\n`);
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(10_000); // systemd's TimeoutStopSec is 20 s

    expect(await freeBytes(mount)).toBeLessThan(8 * 1024);
    const second = spawnOne();
    await waitStarted(second);
    const sent2 = Date.now();
    second.child.kill("SIGTERM");
    const exit2 = await inTime(second.exited, 20_000, "the second agent's exit").catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last logs: ${JSON.stringify(second.logs.slice(-8))}`);
    });
    expect(exit2.code).toBe(0);
    expect(exit2.at - sent2).toBeLessThan(10_000);
  }, 180_000);
});
