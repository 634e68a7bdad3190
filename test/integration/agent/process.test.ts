/**
 * The agent as a real process: `fleetsync agent --config FILE`, killed with SIGKILL or stopped with SIGTERM at the
 * worst moments, then restarted. Real parts only: a GPS on a pseudo-terminal (socat), LevelDB on disk, Aedes over TCP.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createOutbox, OutboxConfigSchema } from "../../../agent/outbox/index.ts";
import { waitFor } from "../../support/wait.ts";
import {
  type AgentProcess,
  killAtCleanup,
  nmeaEpoch,
  ptyPair,
  spawnAgent,
  waitStarted,
  writeConfig,
} from "./process.ts";
import { dedupeSeqs, prefillOutbox, range, startBroker, tempDir } from "./support.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const track = (agent: AgentProcess) => killAtCleanup(agent, cleanups);

function baseConfig(truckId: string, dir: string, port: number, extra: Record<string, unknown> = {}) {
  return {
    truckId,
    broker: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 4, reconnectMinMs: 50, reconnectMaxMs: 500 },
    outbox: { dir: `${dir}/outbox`, commitIntervalMs: 50 },
    sampler: { minIntervalMs: 0, movingPeriodMs: 0, parkedPeriodMs: 0, tickMs: 3_600_000 },
    metrics: { enabled: true, port: 0 },
    ...extra,
  };
}

/** Writes NMEA epochs into the pty as fast as a busy receiver would, until stopped. */
function feeder(path: string, perTick: number) {
  const out: WriteStream = createWriteStream(path, { flags: "w" });
  let i = 0;
  const timer = setInterval(() => {
    let chunk = "";
    for (let k = 0; k < perTick; k++) chunk += nmeaEpoch(i++);
    out.write(chunk);
  }, 10);
  return {
    count: () => i,
    async stop() {
      clearInterval(timer);
      await new Promise<void>((r) => out.end(() => r()));
    },
  };
}

function sameContentPerSeq(records: { seq: number }[]): void {
  const bySeq = new Map<number, string>();
  for (const r of records) {
    const s = JSON.stringify(r);
    expect(bySeq.get(r.seq) ?? s, `seq ${r.seq} reused for a different record`).toBe(s);
    bySeq.set(r.seq, s);
  }
}

describe("fleetsync agent process", () => {
  it("SIGKILL during heavy recording: after a restart no committed record is lost and seq continues", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const gps = await ptyPair(tmp.dir, "gps");
    cleanups.push(() => gps.close());
    const file = await writeConfig(
      tmp.dir,
      baseConfig("TRUCK-KILL-1", tmp.dir, broker.port, { gps: { path: gps.device, baudRate: 115200 } }),
    );

    const first = track(spawnAgent(file));
    await waitStarted(first);
    const feed = feeder(gps.feed, 10);
    cleanups.push(() => feed.stop());
    await waitFor(() => first.committed("telemetry") >= 1500 || undefined, "1500 records committed", {
      timeoutMs: 60_000,
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const committedBeforeKill = first.committed("telemetry");

    const second = track(spawnAgent(file));
    await waitStarted(second);
    await waitFor(
      () => second.committed("telemetry") >= committedBeforeKill + 300 || undefined,
      "300 more records after restart",
      {
        timeoutMs: 60_000,
      },
    );
    await feed.stop();
    const last = second.committed("telemetry");
    await waitFor(
      () => dedupeSeqs(broker.received.telemetry).length >= last || undefined,
      "every committed record at the broker",
    );
    second.child.kill("SIGTERM");
    await second.exited;

    const seqs = dedupeSeqs(broker.received.telemetry);
    // Nothing committed before the kill is missing, and the restarted agent continued the same sequence.
    expect(seqs.slice(0, committedBeforeKill)).toEqual(range(0, committedBeforeKill));
    expect(seqs).toEqual(range(0, seqs.length));
    expect(seqs.length).toBeGreaterThanOrEqual(committedBeforeKill + 300);
    expect(new Set(broker.received.telemetry.map((r) => r.stream)).size).toBe(1);
    sameContentPerSeq(broker.received.telemetry);
    expect(broker.received.invalid).toBe(0);
    // The two runs' start events: seq 0 and 1 of the events channel, not 0 twice.
    const starts = broker.received.events.filter((e) => e.type === "start").map((e) => e.seq);
    expect([...new Set(starts)]).toEqual([0, 1]);
  });

  it("SIGKILL during a backlog drain: the restart drains the rest, none lost, events seq not reused", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const total = 30_000;
    const stream = await prefillOutbox(`${tmp.dir}/outbox`, "TRUCK-KILL-2", total);
    const broker = await startBroker({ delayMs: 40 });
    cleanups.push(() => broker.close());
    const file = await writeConfig(
      tmp.dir,
      baseConfig("TRUCK-KILL-2", tmp.dir, broker.port, {
        broker: {
          url: `mqtt://127.0.0.1:${broker.port}`,
          protocolVersion: 4,
          reconnectMinMs: 50,
          reconnectMaxMs: 500,
          maxBatchRecords: 100,
          inflightBatches: 4,
        },
      }),
    );
    const first = track(spawnAgent(file));
    await waitStarted(first);
    await waitFor(() => dedupeSeqs(broker.received.telemetry).length >= 3000 || undefined, "drain under way");
    first.child.kill("SIGKILL");
    await first.exited;
    expect(dedupeSeqs(broker.received.telemetry).length).toBeLessThan(total);

    const second = track(spawnAgent(file));
    await waitStarted(second);
    await waitFor(() => dedupeSeqs(broker.received.telemetry).length === total || undefined, "the whole backlog", {
      timeoutMs: 90_000,
    });
    second.child.kill("SIGTERM");
    await second.exited;
    expect(dedupeSeqs(broker.received.telemetry)).toEqual(range(0, total));
    expect(new Set(broker.received.telemetry.map((r) => r.stream))).toEqual(new Set([stream]));
    sameContentPerSeq(broker.received.telemetry);
    expect(broker.received.invalid).toBe(0);
    const starts = broker.received.events.filter((e) => e.type === "start").map((e) => e.seq);
    expect([...new Set(starts)]).toEqual([0, 1]);
  });

  it("SIGTERM while draining: exits within a few seconds and loses nothing", async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const total = 30_000;
    const dir = `${tmp.dir}/outbox`;
    await prefillOutbox(dir, "TRUCK-TERM-1", total);
    const broker = await startBroker({ delayMs: 40 });
    cleanups.push(() => broker.close());
    const config = baseConfig("TRUCK-TERM-1", tmp.dir, broker.port);
    config.broker = { ...config.broker, maxBatchRecords: 100, inflightBatches: 4 } as typeof config.broker;
    const file = await writeConfig(tmp.dir, config);
    const agent = track(spawnAgent(file));
    await waitStarted(agent);
    await waitFor(() => dedupeSeqs(broker.received.telemetry).length >= 3000 || undefined, "drain under way");
    const sent = Date.now();
    agent.child.kill("SIGTERM");
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(5000);
    expect(agent.logs.some((l) => l.msg === "agent stopped")).toBe(true);

    // What the broker did not acknowledge is still in the outbox: together, every record.
    const outbox = createOutbox(OutboxConfigSchema.parse({ dir }), { truckId: "TRUCK-TERM-1" });
    await outbox.start();
    const left = (await outbox.read("telemetry", 0, total)).map((r) => r.seq);
    await outbox.stop();
    const arrived = new Set(dedupeSeqs(broker.received.telemetry));
    for (const s of left) arrived.add(s);
    const missing = range(0, total).filter((s) => !arrived.has(s));
    expect(broker.received.invalid).toBe(0);
    expect(missing).toEqual([]);
    expect(left.length).toBeGreaterThan(0);
    // The records left are exactly the tail after the last acknowledged one: nothing acknowledged stayed behind.
    expect(left).toEqual(range(left[0]!, total));
  });
});
