/**
 * The whole path, in `npm test`: 20 simulated trucks on socat ptys (two in three with an SLCAN adapter, one in three
 * an ELM327), 20 real agents reading them (serial sources, sampler, LevelDB outbox on disk, MQTT 5 uplink), the
 * bridge as its own process over TCP, and real Kafka. At least 500 telemetry records per truck; the verifier reads
 * both topics back through protocol/'s in-order filter: zero loss, zero reordering, every truck on one partition.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { describeResult, type FleetRun, startFleetRun } from "./fleet.ts";

const TRUCKS = 20;
const PER_TRUCK = 500;

describe("end to end: trucks → agents → bridge → Kafka", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it(`${TRUCKS} trucks × ${PER_TRUCK} records arrive complete and in order`, async () => {
    const began = Date.now();
    run = await startFleetRun({ name: "fleet", brokers: kafkaBrokers(), trucks: TRUCKS });
    const startedMs = Date.now() - began;
    await run.waitMade(PER_TRUCK, 90_000);
    // Each truck's records come from its devices: both adapter kinds feed decoded J1939, the GPS feeds fixes.
    for (const agent of run.agents) {
      expect(agent.agent.state.engine()?.engineSpeedRpm, `${agent.truckId} engine speed`).toBeTypeOf("number");
      expect(agent.can?.counters().j1939Messages ?? 0, `${agent.truckId} J1939 messages`).toBeGreaterThan(100);
      expect(agent.can?.counters().invalid ?? 1, `${agent.truckId} invalid CAN lines`).toBe(0);
      expect(agent.gps?.counters().lines ?? 0, `${agent.truckId} NMEA lines`).toBeGreaterThan(10);
    }
    const result = await run.finish();
    process.stdout.write(
      `${describeResult("e2e", result)} (start-up ${startedMs} ms, drain ${result.drainMs} ms, total ${Date.now() - began} ms)\n`,
    );

    for (const [truckId, made] of Object.entries(result.made)) {
      expect(made.telemetry, truckId).toBeGreaterThanOrEqual(PER_TRUCK);
    }
    const t = result.telemetry;
    expect(t.failures).toEqual([]);
    expect(t.ok).toBe(true);
    expect(t.totals.trucks).toBe(TRUCKS);
    expect(t.totals.lostUnexplained).toBe(0);
    expect(t.totals.lostAnnounced).toBe(0);
    expect(t.totals.reordered).toBe(0);
    expect(t.totals.invalid).toBe(0);
    expect(t.totals.unique).toBe(Object.values(result.made).reduce((n, m) => n + m.telemetry, 0));
    expect(result.events.failures).toEqual([]);
    expect(result.events.ok).toBe(true);
  });
});
