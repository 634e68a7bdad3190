/**
 * An outage longer than the outbox's budget, with the thin-then-drop policy (issue 20): one simulated hour without
 * the bridge (a simulated receiver and the agent's clock at TIME_SCALE, one record per simulated second) into a
 * 128 KiB budget that holds about 700 of the ~3,600 records. The outbox thins its oldest telemetry five simulated
 * minutes at a time (one position per 30 s kept) instead of dropping it: when the bridge comes up, every event
 * arrives, the thinned ranges are announced on fleet.events, nothing is dropped, and the verifier's accounting adds
 * up: kept + thinned = produced, nothing lost. Real parts throughout: socat ptys, the agent's serial source, state,
 * sampler, LevelDB outbox and uplink, the bridge process, Kafka. (drop-oldest, the default, is covered unchanged by
 * test/faults/outbox-overflow.test.ts.)
 */
import { afterAll, describe, expect, it } from "vitest";
import { expectNoLossNoReorder } from "../faults/support.ts";
import { kafkaBrokers } from "../support/kafka.ts";
import { type FleetRun, startFleetRun } from "./fleet.ts";

const TIME_SCALE = 200;
const OUTAGE_RECORDS = 3_600; // one hour at one record per simulated second
const MAX_BYTES = 128 * 1024;
const WINDOW_S = 300;
const KEEP_EVERY_S = 30;

describe("a truck whose outage outlasts its outbox budget (thin-then-drop)", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it("thins its oldest telemetry with announced ranges, keeps every event, and the accounting adds up", async () => {
    run = await startFleetRun({
      name: "outage-thin",
      brokers: kafkaBrokers(),
      trucks: 1,
      canKind: () => "none",
      nmeaHz: 1,
      timeScale: TIME_SCALE,
      deviceTickMs: 1_000 / TIME_SCALE,
      bridgeUp: false,
      agent: {
        clock: { timeScale: TIME_SCALE },
        sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000, minIntervalMs: 0, tickMs: 20 },
        state: { gnssMaxJumpMs: 10_000 * TIME_SCALE },
        outbox: {
          maxBytes: MAX_BYTES,
          whenFull: "thin-then-drop",
          thinWindowS: WINDOW_S,
          thinKeepEveryS: KEEP_EVERY_S,
        },
      },
    });
    const r = run;
    const truck = r.agents[0]!;
    await r.waitMade(OUTAGE_RECORDS, 180_000);
    const outbox = truck.agent.outbox.stats().channels;
    process.stdout.write(
      `outage-thin: ${truck.made().telemetry} telemetry records made, ${outbox.telemetry.thinned} thinned, ` +
        `${outbox.telemetry.dropped} dropped, ${outbox.telemetry.bytes} bytes stored\n`,
    );
    // Most of the hour was thinned, none of it dropped, and the store is within its budget (give or take the
    // records of one commit, which the next pass makes room for).
    expect(outbox.telemetry.thinned).toBeGreaterThan(OUTAGE_RECORDS / 2);
    expect(outbox.telemetry.dropped).toBe(0);
    expect(outbox.events.dropped).toBe(0);
    expect(outbox.telemetry.bytes + outbox.events.bytes).toBeLessThanOrEqual(MAX_BYTES + 16 * 1024);

    await r.startBridge();
    const result = await r.finish({ drainTimeoutMs: 180_000 });
    expectNoLossNoReorder("outage-thin", result);
    const made = result.made[truck.truckId]!;
    const t = result.telemetry.trucks[truck.truckId]!;
    process.stdout.write(
      `outage-thin: accounting kept ${t.accounting.kept} + thinned ${t.accounting.thinned} + dropped ` +
        `${t.accounting.dropped} = produced ${t.accounting.produced}; ${result.telemetry.announcedThinned} thinned ranges\n`,
    );
    // Every thinned record is announced (the verifier counts it as thinned, never as lost), and only those.
    const thinnedByAgent = truck.agent.outbox.stats().channels.telemetry.thinned;
    expect(t.accounting).toEqual({
      produced: made.telemetry,
      kept: made.telemetry - thinnedByAgent,
      thinned: thinnedByAgent,
      dropped: 0,
      unexplained: 0,
    });
    expect(result.telemetry.announcedThinned).toBeGreaterThanOrEqual(Math.floor(OUTAGE_RECORDS / WINDOW_S) - 4);
    // Every event survived: all of them are in Kafka, the thinned events among them.
    const e = result.events.trucks[truck.truckId]!;
    expect(e.unique).toBe(made.events);
    expect(e.lostAnnounced + e.lostUnexplained).toBe(0);
  });
});
