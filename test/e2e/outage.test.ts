/**
 * A truck back from a long outage (issue 20): two simulated hours without the bridge (a simulated receiver and the
 * agent's clock at TIME_SCALE, one record per simulated second: ~7,200 records in its LevelDB outbox), then the
 * bridge comes up. The truck's current position must be in fleet.latest within 2 s of the reconnect while the
 * backlog is still draining (paced by drainBytesPerSecond, so the drain takes several seconds on any machine), and
 * the backlog must arrive complete and in order on fleet.telemetry (the verifier: nothing lost, nothing reordered).
 * Real parts throughout: socat ptys, the agent's serial source, state, sampler, outbox and uplink, the bridge
 * process, Kafka.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { TelemetryRecord } from "../../protocol/index.ts";
import { expectNoLossNoReorder } from "../faults/support.ts";
import { readUntil, testKafka } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import type { FleetRun } from "./fleet.ts";
import { startOutageRun } from "./outage.ts";

const TIME_SCALE = 200;
const OUTAGE_RECORDS = 7_200; // two hours at one record per simulated second
/**
 * The backlog's share of the link. The binary wire format carries a GPS-only record in ~9 bytes within a large batch,
 * so 7,200 records are ~65 KB: at 8 KB/s the drain takes ~7 s (unpaced it is limited only by the in-flight window
 * and the bridge's Kafka round trips: ~2 s here).
 */
const DRAIN_BYTES_PER_S = 8_000;

describe("a truck back from a two-hour outage", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it("shows its current position in fleet.latest within 2 s, while the backlog drains complete and in order", async () => {
    run = await startOutageRun("outage", TIME_SCALE, { broker: { drainBytesPerSecond: DRAIN_BYTES_PER_S } });
    const r = run;
    const truck = r.agents[0]!;
    const began = Date.now();
    await r.waitMade(OUTAGE_RECORDS, 180_000);
    process.stdout.write(`outage: two simulated hours in ${Date.now() - began} ms\n`);
    const outbox = truck.agent.outbox.stats().channels.telemetry;
    const [oldestRecord] = await truck.agent.outbox.read("telemetry", 0, 1);
    const firstTs = oldestRecord!.ts;
    expect(outbox.dropped).toBe(0);
    process.stdout.write(`outage: ${truck.made().telemetry} telemetry records waiting, ${outbox.bytes} bytes\n`);

    await r.startBridge();
    const uplink = () => truck.agent.uplink.stats();
    await waitFor(() => uplink().latestAcked > 0, "the latest record acknowledged (so in Kafka)", {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    // The backlog is still on its way when the current state is already in Kafka.
    const depthAtLatest = truck.depth();
    const ackedAtLatest = truck.acked().telemetry;
    const s = uplink();
    const reconnectToLatestMs = s.latestAckedAt - s.connectedAt;
    process.stdout.write(
      `outage: reconnect -> current state in Kafka ${reconnectToLatestMs} ms; outbox then ${depthAtLatest} records ` +
        `(${ackedAtLatest} telemetry acknowledged)\n`,
    );
    expect(reconnectToLatestMs).toBeLessThanOrEqual(2_000);
    expect(depthAtLatest).toBeGreaterThan(OUTAGE_RECORDS / 2);

    // fleet.latest holds a record from the end of the outage (not its start), keyed by the truck.
    const kafka = testKafka("outage-e2e");
    const latest = await readUntil(kafka, r.topics.latest, (rs) => rs.length >= 1, "the latest record", 30_000);
    const first = latest[0]!;
    expect(first.key).toBe(truck.truckId);
    expect(first.headers["fleet-schema"]).toBe("fleetsync.latest");
    const record = JSON.parse(first.value!) as TelemetryRecord;
    expect(record.seq).toBeGreaterThanOrEqual(OUTAGE_RECORDS - 1);
    // Its time is two simulated hours after the backlog's first record: the map can jump there at once.
    const oldest = Date.parse(firstTs);
    expect(Date.parse(record.ts) - oldest).toBeGreaterThanOrEqual(1.9 * 3_600_000);
    expect(record.gps?.lat).toEqual(expect.any(Number));

    const result = await r.finish({ drainTimeoutMs: 180_000 });
    const sent = uplink();
    const drainS = (Date.now() - s.connectedAt) / 1000;
    const rate = sent.bytesPublished / drainS;
    process.stdout.write(
      `outage: drained ${sent.recordsAcked} records, ${sent.bytesPublished} bytes in ${drainS.toFixed(1)} s ` +
        `(${Math.round(sent.recordsAcked / drainS)} records/s, ${Math.round(rate)} B/s, paced at ${DRAIN_BYTES_PER_S}); ` +
        `latest publishes ${sent.latestPublished}\n`,
    );
    expectNoLossNoReorder("outage", result);
    expect(result.telemetry.totals.unique).toBe(result.made[truck.truckId]!.telemetry);
    // Pacing held the drain back and kept to its rate: at most one second's worth of burst above it (plus a batch).
    expect(sent.drainPacedWaits).toBeGreaterThan(0);
    expect(sent.bytesPublished).toBeLessThanOrEqual(DRAIN_BYTES_PER_S * (drainS + 1) + 4_096);
  });
});
