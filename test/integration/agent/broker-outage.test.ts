/**
 * Promise 1 and 4 with real parts: the agent (state → sampler → LevelDB outbox → MQTT.js uplink) against a real
 * Aedes broker over TCP. The broker goes away and comes back; the disk budget overflows.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Agent, createAgent, parseAgentConfig } from "../../../agent/index.ts";
import type { GpsFix } from "../../../agent/sources/types.ts";
import { waitFor } from "../../support/wait.ts";
import { dedupeSeqs, range, startBroker, type TestBroker, tempDir } from "./support.ts";

const TRUCK = "TRUCK-OUTAGE-1";
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeAgent(dir: string, port: number, overrides: { maxBytes?: number } = {}): Agent {
  const config = parseAgentConfig({
    truckId: TRUCK,
    broker: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 4, reconnectMinMs: 50, reconnectMaxMs: 300 },
    outbox: { dir, commitIntervalMs: 20, ...overrides },
    // Every fix becomes a record and the periodic tick never fires, so the test decides how many are taken.
    sampler: { minIntervalMs: 0, movingPeriodMs: 0, parkedPeriodMs: 0, tickMs: 3_600_000 },
    metrics: { enabled: true, port: 0 },
  });
  const agent = createAgent(config, { version: "0.0.0-test" });
  cleanups.push(() => agent.stop());
  return agent;
}

let fixNo = 0;
function record(agent: Agent, n: number): void {
  for (let i = 0; i < n; i++) {
    fixNo++;
    const fix: GpsFix = {
      time: new Date(Date.UTC(2026, 10, 21, 6, 0, 0) + fixNo * 1000).toISOString(),
      fix: "3d",
      lat: 48 + fixNo * 1e-5,
      lon: 11,
      altM: 500,
      speedKmh: 60,
      courseDeg: 45,
      sats: 10,
      hdop: 0.8,
      pdop: 1.2,
    };
    agent.state.applyFix(fix);
    agent.sampler.evaluate();
  }
}

async function committed(agent: Agent, count: number): Promise<void> {
  await waitFor(() => agent.outbox.committedNext("telemetry") >= count, `${count} telemetry records committed`);
}

describe("agent against a broker that goes away", () => {
  it("delivers every record taken while the broker was down, in seq order, none lost", async () => {
    const broker: TestBroker = await startBroker();
    cleanups.push(() => broker.close());
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const agent = makeAgent(tmp.dir, broker.port);
    await agent.start();
    await agent.uplink.whenConnected();
    record(agent, 100);
    await waitFor(() => broker.received.telemetry.length >= 100 || undefined, "first 100 records at the broker");

    await broker.down();
    await waitFor(() => !agent.uplink.stats().connected, "agent sees the broker gone");
    record(agent, 3000);
    await committed(agent, 3100);
    expect(agent.outbox.depth()).toBeGreaterThanOrEqual(3000);

    await broker.up();
    await waitFor(
      () => dedupeSeqs(broker.received.telemetry).length === 3100 || undefined,
      "all 3100 records at the broker",
      { timeoutMs: 30_000 },
    );
    const seqs = dedupeSeqs(broker.received.telemetry);
    expect(seqs).toEqual(range(0, 3100));
    expect(broker.received.invalid).toBe(0);
    const streams = new Set(broker.received.telemetry.map((r) => r.stream));
    expect(streams).toEqual(new Set([agent.outbox.stream]));
    // Every record of a seq is the same record (a resend is a duplicate, never a different record).
    const bySeq = new Map<number, string>();
    for (const r of broker.received.telemetry) {
      const s = JSON.stringify(r);
      expect(bySeq.get(r.seq) ?? s).toBe(s);
      bySeq.set(r.seq, s);
    }
    // The outbox empties once the PUBACKs are in.
    await waitFor(() => agent.outbox.depth() === 0 || undefined, "outbox drained");
    expect(broker.received.events.find((e) => e.type === "start")).toMatchObject({
      seq: 0,
      agentVersion: "0.0.0-test",
    });
    const online = broker.received.status.map((s) => JSON.parse(s) as { state: string; outboxDepth?: number });
    expect(online.filter((s) => s.state === "online").length).toBeGreaterThanOrEqual(2);
    // The metrics endpoint reports the same story.
    const text = await (await fetch(`http://127.0.0.1:${agent.metricsPort()}/metrics`)).text();
    expect(text).toMatch(/fleetsync_agent_outbox_acked_total\{channel="telemetry"\} 3100/);
    expect(text).toMatch(/fleetsync_agent_mqtt_disconnects_total 1/);
  });

  it("over the disk budget drops the oldest records, names exactly which in a gap event, and keeps the newest", async () => {
    const broker = await startBroker();
    const port = broker.port;
    await broker.down(); // the truck is out of coverage from the start
    cleanups.push(() => broker.close());
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const agent = makeAgent(tmp.dir, port, { maxBytes: 128 * 1024 });
    await agent.start();
    const total = 4000;
    for (let i = 0; i < total; i += 200) {
      record(agent, 200);
      await committed(agent, i + 200);
    }
    const dropped = agent.outbox.stats().channels.telemetry.dropped;
    expect(dropped).toBeGreaterThan(0);

    await broker.up();
    await waitFor(
      () => dedupeSeqs(broker.received.telemetry).at(-1) === total - 1 || undefined,
      "the newest record at the broker",
    );
    await waitFor(() => agent.outbox.depth() === 0 || undefined, "outbox drained");
    const gaps = broker.received.events.filter((e) => e.type === "gap");
    expect(gaps.length).toBeGreaterThan(0);
    const lost = new Set<number>();
    for (const g of gaps) {
      if (g.type !== "gap") continue;
      expect(g).toMatchObject({ channel: "telemetry", reason: "outbox-full", count: g.toSeq - g.fromSeq + 1 });
      for (const s of range(g.fromSeq, g.toSeq + 1)) lost.add(s);
    }
    const arrived = dedupeSeqs(broker.received.telemetry);
    // Exactly the records the gap events name are missing: the oldest ones, contiguous from 0; all newer arrived.
    expect(lost.size).toBe(dropped);
    expect([...lost].sort((a, b) => a - b)).toEqual(range(0, dropped));
    expect(arrived).toEqual(range(dropped, total));
    expect(broker.received.invalid).toBe(0);
  });
});
