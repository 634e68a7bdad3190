/**
 * The uplink's logic with a double of the MQTT client (mqtt-port.ts) and the real outbox on the in-memory store:
 * when it reconnects and after how long, the order batches go out and come back, what a PUBACK error and a lost
 * connection mid-batch do to the outbox. Timers are faked so backoff is exact and nothing waits on the clock. The
 * same paths over a real broker are in test/integration/agent (broker-outage, mqtt5-tls) and test/faults.
 */
import { EventEmitter } from "node:events";
import type { IClientOptions } from "mqtt";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeEvents, decodeTelemetry } from "../../protocol/index.ts";
import { createMemoryStore, createOutbox, type Outbox, OutboxConfigSchema } from "../outbox/index.ts";
import { type UplinkConfig, UplinkConfigSchema } from "./config.ts";
import type { MqttPort } from "./mqtt-port.ts";
import { createUplink } from "./uplink.ts";

const TRUCK = "T1";

interface Published {
  topic: string;
  payload: Buffer;
  options: { qos: 1; retain?: boolean };
  callback: (error?: Error) => void;
}

/** What the uplink sees of MQTT.js: events out, publishes in; the test plays the broker by calling back. */
class FakeClient extends EventEmitter implements MqttPort {
  readonly publishes: Published[] = [];
  readonly ends: boolean[] = [];
  constructor(readonly options: IClientOptions) {
    super();
  }
  publish(topic: string, payload: Buffer, options: Published["options"], callback: Published["callback"]): this {
    this.publishes.push({ topic, payload, options, callback });
    return this;
  }
  /** Only with a remote-config hook; these tests give none. */
  subscribe(): this {
    return this;
  }
  end(force: boolean, _options?: Record<string, never>, callback?: () => void): this {
    this.ends.push(force);
    callback?.();
    return this;
  }
  /** The latest-lane publishes so far. */
  latestLane(): Published[] {
    return this.publishes.filter((p) => p.topic === `fleetsync/v1/${TRUCK}/latest`);
  }
  /** The telemetry batches published so far, as their seqs. */
  telemetry(): Published[] {
    return this.publishes.filter((p) => p.topic === `fleetsync/v1/${TRUCK}/telemetry`);
  }
}

function seqs(p: Published): number[] {
  const decoded = decodeTelemetry(TRUCK, p.payload);
  if (!decoded.ok) throw decoded.error;
  return decoded.records.map((r) => r.seq);
}

/**
 * Lets promise chains (outbox reads, the pump) run; fails if `done` is not true within a bounded number of turns.
 * `tickMs`: also moves the fake clock on by this much per turn (for waits that end on a timer).
 */
async function until(done: () => boolean, what: string, tickMs = 0): Promise<void> {
  for (let turn = 0; turn < 1000; turn++) {
    if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (tickMs > 0) await vi.advanceTimersByTimeAsync(tickMs);
  }
  throw new Error(`not reached: ${what}`);
}

interface Rig {
  outbox: Outbox;
  clients: FakeClient[];
  uplink: ReturnType<typeof createUplink>;
  latest(): FakeClient;
  append(count: number): Promise<void>;
  /** Appends `records`, starts the uplink and lets the broker accept the connection: the client of that session. */
  connectWith(records: number): Promise<FakeClient>;
  /** Stops the uplink (answering its offline status as the broker would), then the outbox. */
  stop(): Promise<void>;
}

function offlineStatus(c: FakeClient | undefined): Published | undefined {
  return c?.publishes.find(
    (p) => p.topic === `fleetsync/v1/${TRUCK}/status` && JSON.parse(String(p.payload)).state === "offline",
  );
}

async function rig(overrides: Partial<UplinkConfig> = {}): Promise<Rig> {
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir: "unused", commitIntervalMs: 60_000 }), {
    truckId: TRUCK,
    store: createMemoryStore(new Map()),
  });
  await outbox.start();
  const clients: FakeClient[] = [];
  const config = UplinkConfigSchema.parse({
    url: "mqtt://broker.invalid:1883",
    reconnectMinMs: 1_000,
    reconnectMaxMs: 8_000,
    format: "json",
    ...overrides,
  });
  const uplink = createUplink(config, {
    truckId: TRUCK,
    outbox,
    status: () => ({ agentVersion: "test", bootId: "boot" }),
    connect: (_url, options) => {
      const c = new FakeClient(options);
      clients.push(c);
      return c;
    },
    // 0.5 makes the jitter factor exactly 1: the delays are minMs * 2^attempt, capped at maxMs.
    random: () => 0.5,
  });
  let minute = 0;
  async function append(count: number): Promise<void> {
    const appended: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      const ts = new Date(Date.UTC(2026, 0, 1, 0, minute++)).toISOString();
      appended.push(outbox.append("telemetry", { ts, timeSource: "system" }));
    }
    await outbox.flush();
    await Promise.all(appended);
  }
  return {
    outbox,
    clients,
    uplink,
    latest: () => clients.at(-1)!,
    append,
    async connectWith(records) {
      await append(records);
      await uplink.start();
      const c = clients.at(-1)!;
      c.emit("connect");
      return c;
    },
    async stop() {
      let done = false;
      const stopping = uplink.stop().then(() => (done = true));
      // Batches still in flight hold stop for up to stopTimeoutMs: let the fake clock run through that wait.
      await until(() => done || offlineStatus(clients.at(-1)) !== undefined, "stopped, or saying offline", 100);
      offlineStatus(clients.at(-1))?.callback();
      await stopping;
      await outbox.stop();
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("uplink: connection", () => {
  it("connects as the truck with a persistent session, its will, and no reconnecting or write cache of MQTT.js's own", async () => {
    const r = await rig();
    await r.uplink.start();
    const o = r.latest().options;
    expect(o).toMatchObject({ clientId: TRUCK, username: TRUCK, clean: false, reconnectPeriod: 0, writeCache: false });
    expect(o.will).toMatchObject({ topic: `fleetsync/v1/${TRUCK}/status`, qos: 1, retain: true });
    expect(JSON.parse(String(o.will!.payload))).toMatchObject({ truckId: TRUCK, state: "offline" });
    r.latest().emit("connect");
    const status = r.latest().publishes[0]!;
    expect(status.topic).toBe(`fleetsync/v1/${TRUCK}/status`);
    expect(status.options).toEqual({ qos: 1, retain: true });
    expect(JSON.parse(String(status.payload))).toMatchObject({ state: "online", outboxDepth: 0, bootId: "boot" });
    expect(r.uplink.stats()).toMatchObject({ connected: true, connects: 1 });
    await r.stop();
  });

  it("reconnects after a doubling backoff, capped, and starts again from the shortest wait once connected", async () => {
    const r = await rig();
    await r.uplink.start();
    const waits: number[] = [];
    // Five failed attempts: each close schedules the next attempt; measure how long until it comes.
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = r.clients.length;
      r.latest().emit("close");
      expect(r.latest().ends).toEqual([true]);
      let waited = 0;
      while (r.clients.length === before) {
        await vi.advanceTimersByTimeAsync(100);
        waited += 100;
        if (waited > 60_000) throw new Error("no reconnect within a minute");
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    r.latest().emit("connect");
    r.latest().emit("close");
    expect(r.uplink.stats()).toMatchObject({ connected: false, connects: 1, disconnects: 1 });
    const before = r.clients.length;
    await vi.advanceTimersByTimeAsync(999);
    expect(r.clients.length).toBe(before);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.clients.length).toBe(before + 1);
    await r.stop();
  });

  it("does not reconnect once stopped, and a late close from the old client changes nothing", async () => {
    const r = await rig();
    await r.uplink.start();
    r.latest().emit("connect");
    const c = r.latest();
    const stopping = r.uplink.stop();
    await until(() => offlineStatus(c) !== undefined, "the offline status");
    expect(c.ends).toEqual([]); // offline is said before the DISCONNECT, which would suppress the will
    offlineStatus(c)!.callback();
    await stopping;
    expect(c.ends).toEqual([false]); // a clean DISCONNECT
    c.emit("close");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.clients).toHaveLength(1);
    await expect(r.uplink.start()).rejects.toMatchObject({ code: "FLEET_CLOSED" });
    await r.outbox.stop();
  });
});

describe("uplink: drain pump", () => {
  it("publishes in seq order within the in-flight window and acknowledges the outbox only up to the oldest PUBACK", async () => {
    const r = await rig({ maxBatchRecords: 2, inflightBatches: 2 });
    await r.append(7);
    await r.uplink.start();
    const c = r.latest();
    c.emit("connect");
    await until(() => c.telemetry().length === 2, "two batches in flight");
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.telemetry().map(seqs)).toEqual([
      [0, 1],
      [2, 3],
    ]); // the window is full: no third batch
    // The second PUBACK first: nothing may leave the outbox while seq 0-1 is unacknowledged.
    c.telemetry()[1]!.callback();
    await r.outbox.flush();
    expect(r.outbox.firstSeq("telemetry")).toBe(0);
    expect(r.uplink.stats().recordsAcked).toBe(0);
    c.telemetry()[0]!.callback();
    await until(() => r.uplink.stats().recordsAcked === 4, "both batches acknowledged");
    await r.outbox.flush();
    expect(r.outbox.firstSeq("telemetry")).toBe(4);
    await until(() => c.telemetry().length === 4, "the window refilled");
    expect(c.telemetry().slice(2).map(seqs)).toEqual([[4, 5], [6]]);
    c.telemetry()[2]!.callback();
    c.telemetry()[3]!.callback();
    await until(() => r.uplink.stats().recordsAcked === 7, "all acknowledged");
    await r.outbox.flush();
    expect(r.outbox.depth()).toBe(0);
    await r.stop();
  });

  it("publishes records committed while connected, on both channels, each on its own topic", async () => {
    const r = await rig();
    await r.uplink.start();
    const c = r.latest();
    c.emit("connect");
    await r.append(1);
    const event = r.outbox.append("events", {
      ts: "2026-01-01T00:00:00.000Z",
      timeSource: "system",
      type: "start",
      agentVersion: "test",
      bootId: "boot",
    });
    await r.outbox.flush();
    await event;
    await until(() => c.publishes.length === 3, "status, telemetry and events");
    const events = c.publishes.find((p) => p.topic === `fleetsync/v1/${TRUCK}/events`)!;
    const decoded = decodeEvents(TRUCK, events.payload);
    expect(decoded.ok && decoded.records.map((e) => [e.seq, e.type])).toEqual([[0, "start"]]);
    expect(c.telemetry().map(seqs)).toEqual([[0]]);
    await r.stop();
  });

  it("a refused PUBACK drops the connection and, after the backoff, sends the same records again from the outbox head", async () => {
    const r = await rig({ maxBatchRecords: 3 });
    await r.append(3);
    await r.uplink.start();
    const first = r.latest();
    first.emit("connect");
    await until(() => first.telemetry().length === 1, "a batch in flight");
    first.telemetry()[0]!.callback(new Error("PUBACK reason 0x97: quota exceeded"));
    expect(r.uplink.stats()).toMatchObject({ publishErrors: 1, connected: false, recordsAcked: 0 });
    expect(first.ends).toEqual([true]);
    await r.outbox.flush();
    expect(r.outbox.depth()).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    const second = r.latest();
    expect(second).not.toBe(first);
    second.emit("connect");
    await until(() => second.telemetry().length === 1, "the batch again");
    expect(seqs(second.telemetry()[0]!)).toEqual([0, 1, 2]);
    await r.stop();
  });

  it("a connection lost mid-batch forgets what was in flight: late PUBACKs are ignored, the next session resumes after the last acknowledged seq", async () => {
    const r = await rig({ maxBatchRecords: 2, inflightBatches: 3 });
    await r.append(6);
    await r.uplink.start();
    const first = r.latest();
    first.emit("connect");
    await until(() => first.telemetry().length === 3, "three batches in flight");
    first.telemetry()[0]!.callback();
    await until(() => r.uplink.stats().recordsAcked === 2, "the first batch acknowledged");
    first.emit("close");
    // The broker's PUBACK for seq 2-3 arrives after the connection was given up: not an acknowledgement any more.
    first.telemetry()[1]!.callback();
    await r.outbox.flush();
    expect(r.uplink.stats().recordsAcked).toBe(2);
    expect(r.outbox.firstSeq("telemetry")).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    const second = r.latest();
    second.emit("connect");
    await until(() => second.telemetry().length === 2, "the rest again");
    expect(second.telemetry().map(seqs)).toEqual([
      [2, 3],
      [4, 5],
    ]);
    // MQTT.js fails the old client's outstanding publishes when it is torn down: that error is about a connection
    // already given up, and must not drop the new one.
    first.telemetry()[2]!.callback(new Error("client disconnecting"));
    expect(r.uplink.stats()).toMatchObject({ connected: true, publishErrors: 0 });
    expect(second.ends).toEqual([]);
    await r.stop();
  });

  it("stop waits for the PUBACKs in flight (bounded by stopTimeoutMs), then says offline and disconnects", async () => {
    const r = await rig({ maxBatchRecords: 2, stopTimeoutMs: 5_000 });
    await r.append(2);
    await r.uplink.start();
    const c = r.latest();
    c.emit("connect");
    await until(() => c.telemetry().length === 1, "a batch in flight");
    let stopped = false;
    const stopping = r.uplink.stop().then(() => (stopped = true));
    await r.append(2); // committed during stop: not published any more
    await vi.advanceTimersByTimeAsync(4_000);
    expect(stopped).toBe(false);
    c.telemetry()[0]!.callback();
    await until(() => offlineStatus(c) !== undefined, "the offline status");
    offlineStatus(c)!.callback();
    await stopping;
    expect(c.telemetry()).toHaveLength(1);
    expect(r.uplink.stats().recordsAcked).toBe(2);
    expect(c.ends).toEqual([false]);

    // No PUBACK at all: stop gives up after stopTimeoutMs and the records stay in the outbox.
    const s = await rig({ stopTimeoutMs: 5_000 });
    await s.append(1);
    await s.uplink.start();
    s.latest().emit("connect");
    await until(() => s.latest().telemetry().length === 1, "a batch in flight");
    let gaveUp = false;
    const giving = s.uplink.stop().then(() => (gaveUp = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(gaveUp).toBe(false);
    await vi.advanceTimersByTimeAsync(1 + 500 + 1_000); // the wait, then the offline status's and end's own bounds
    await giving;
    expect(s.outbox.depth()).toBe(1);
    await r.outbox.stop();
    await s.outbox.stop();
  });

  it("on connect sends the newest record on the latest lane before the first backlog batch", async () => {
    const r = await rig({ maxBatchRecords: 2, inflightBatches: 1 });
    const c = await r.connectWith(6);
    await until(() => c.telemetry().length === 1, "the first backlog batch");
    const lanes = c.publishes.map((p) => p.topic.split("/").at(-1));
    // status (online) first, then the latest record, then the backlog from its oldest record.
    expect(lanes).toEqual(["status", "latest", "telemetry"]);
    expect(seqs(c.latestLane()[0]!)).toEqual([5]);
    expect(seqs(c.telemetry()[0]!)).toEqual([0, 1]);
    c.latestLane()[0]!.callback();
    expect(r.uplink.stats()).toMatchObject({ latestPublished: 1, latestAcked: 1 });
    // The latest lane is not the outbox's: nothing was acknowledged to it.
    expect(r.outbox.depth()).toBe(6);
    await r.stop();
  });

  it("while a backlog drains, a newer record goes on the latest lane again, at most once per latestIntervalMs", async () => {
    const r = await rig({ maxBatchRecords: 2, inflightBatches: 1, latestIntervalMs: 1_000 });
    const c = await r.connectWith(6);
    await until(() => c.telemetry().length === 1, "the first backlog batch");
    await r.append(1); // seq 6, stuck behind the backlog
    await r.append(1); // seq 7
    expect(c.latestLane()).toHaveLength(1);
    await until(() => c.latestLane().length === 2, "the newer record on the latest lane", 100);
    expect(seqs(c.latestLane()[1]!)).toEqual([7]);
    await r.stop();
  });

  it("drainBytesPerSecond paces the backlog: batches wait for the allowance, the latest lane does not", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const r = await rig({ maxBatchRecords: 2, inflightBatches: 8, drainBytesPerSecond: 100 });
    const c = await r.connectWith(10);
    await until(() => c.telemetry().length >= 1, "the first batch");
    // A JSON batch of two records is over 100 bytes: the first spends the one-second allowance.
    const first = c.telemetry()[0]!.payload.length;
    expect(first).toBeGreaterThan(100);
    expect(c.telemetry()).toHaveLength(1);
    expect(c.latestLane()).toHaveLength(1);
    // The allowance is 100 - first bytes now and refills at 100 bytes/s: still short 100 ms before it is back.
    await vi.advanceTimersByTimeAsync(Math.ceil(((first - 100) * 1000) / 100) - 100);
    expect(c.telemetry()).toHaveLength(1);
    await until(() => c.telemetry().length === 2, "the second batch, once the allowance is back", 100);
    expect(r.uplink.stats().drainPacedWaits).toBeGreaterThan(0);
    await r.stop();
  });
});
