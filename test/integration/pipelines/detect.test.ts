/**
 * `fleetsync detect` against a real Kafka: the detectors' alerts land in the alerts topic (read_committed) exactly
 * once, a restart writes nothing again, a replay from earliest re-derives the same alerts with the same ids, a
 * backlog that arrives late gives the alerts it would have given live, resent (out-of-order) records change nothing,
 * records on the gateway's own clock time nothing, and the silent sweep opens and the next record closes a silence.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type Checkpoint,
  createCheckpoint,
  createDetectService,
  type DetectConfig,
  type DetectService,
  parseDetectConfig,
} from "../../../pipelines/detect/index.ts";
import { silentLogger } from "../../../common/log.ts";
import { replayGroup } from "../../../pipelines/runtime/replay.ts";
import { type Alert, AlertSchema } from "../../../protocol/alerts.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "../../../protocol/records.ts";
import {
  createTopics,
  deleteTopics,
  kafkaBrokers,
  readToEnd,
  readUntil,
  testKafka,
  uniqueTopic,
} from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { produce } from "./support.ts";

const kafka = testKafka("detect-test");
const topics: string[] = [];
const services: DetectService[] = [];
const STREAM = "00000000000000cc";
const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);
const MIN = 60_000;

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await deleteTopics(kafka, topics);
});

interface Step {
  min: number;
  rpm?: number;
  kmh?: number;
  fuel?: number;
  lat?: number;
}

function drive(truckId: string, steps: Step[], firstSeq = 0): TelemetryRecord[] {
  return steps.map((s, i) => ({
    truckId,
    stream: STREAM,
    seq: firstSeq + i,
    ts: new Date(T0 + s.min * MIN).toISOString(),
    timeSource: "gnss",
    gps: { fix: "3d", lat: s.lat ?? 52, lon: 4.5, altM: 1, speedKmh: s.kmh ?? 0, courseDeg: 0, sats: 9, hdop: 1 },
    engine: { engineSpeedRpm: s.rpm ?? 650, fuelLevelPct: s.fuel ?? 60 },
  }));
}

function dtc(truckId: string, seq: number, change: "raised" | "cleared"): EventRecord {
  return {
    truckId,
    stream: STREAM,
    seq,
    ts: new Date(T0 + seq * MIN).toISOString(),
    timeSource: "gnss",
    type: "dtc",
    change,
    dtc: { j1939: { spn: 100, fmi: 1, oc: 1, sa: 0 } },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const idle = (truckId: string) =>
  drive(
    truckId,
    range(0, 26).map((min) => ({ min })),
  );
const siphon = (truckId: string, atMin = 0, firstSeq = 0) =>
  drive(
    truckId,
    range(0, 8).map((min) => ({ min: atMin + min, rpm: 0, fuel: min < 3 ? 60 : 60 - (min - 2) * 3 })),
    firstSeq,
  );
// North through a fence around 52.01 N (the fence file below).
const through = (truckId: string) =>
  drive(
    truckId,
    range(0, 6).map((min) => ({ min, rpm: 1400, kmh: 60, lat: 52 + min * 0.004 })),
  );

const FENCES = {
  type: "FeatureCollection",
  features: [
    {
      type: "Feature",
      id: "zone-a",
      properties: { name: "Zone A" },
      geometry: {
        type: "Polygon",
        coordinates: [
          [
            [4.4, 52.008],
            [4.6, 52.008],
            [4.6, 52.014],
            [4.4, 52.014],
            [4.4, 52.008],
          ],
        ],
      },
    },
  ],
};

async function setup() {
  const t = {
    telemetry: uniqueTopic("detect-t"),
    events: uniqueTopic("detect-e"),
    status: uniqueTopic("detect-s"),
    alerts: uniqueTopic("detect-alerts"),
    changelog: uniqueTopic("detect-state"),
  };
  await createTopics(kafka, [
    { topic: t.telemetry, partitions: 2 },
    { topic: t.events, partitions: 2 },
    { topic: t.status, partitions: 2 },
  ]);
  topics.push(...Object.values(t));
  return { topics: t, groupId: `detect-test-${randomBytes(4).toString("hex")}` };
}

async function start(
  s: Awaited<ReturnType<typeof setup>>,
  over: Record<string, unknown> = {},
  checkpointOf?: (config: DetectConfig) => Checkpoint,
) {
  const { parseGeofences } = await import("../../../pipelines/detect/geo.ts");
  const config = parseDetectConfig({
    groupId: s.groupId,
    transactionalId: `${s.groupId}-tx`,
    kafka: { brokers: kafkaBrokers() },
    topics: s.topics,
    http: { port: 0 },
    ...over,
  });
  const service = createDetectService(config, {
    fences: parseGeofences(FENCES, "test fences"),
    ...(checkpointOf ? { checkpoint: checkpointOf(config) } : {}),
  });
  services.push(service);
  await service.start();
  return service;
}

async function readAlerts(topic: string, enough: (alerts: Alert[]) => boolean, what: string): Promise<Alert[]> {
  const records = await readUntil(kafka, topic, (r) => enough(r.map((m) => JSON.parse(m.value!) as Alert)), what);
  return records.map((m) => AlertSchema.parse(JSON.parse(m.value!)));
}

const brief = (alerts: Alert[]) =>
  alerts.map((a) => `${a.truckId} ${a.detector}${a.subject ? `(${a.subject})` : ""} ${a.state} v${a.version}`).sort();

const EXPECTED = [
  "DTC-1 dtc(j1939/0/100/1) closed v1",
  "DTC-1 dtc(j1939/0/100/1) opened v0",
  "FENCE-1 geofence-enter(zone-a) closed v0",
  "FENCE-1 geofence-exit(zone-a) closed v0",
  "FUEL-1 fuel-drop opened v0",
  "IDLE-1 idling opened v0",
];

/**
 * The scenario set once per `sets` entry (trucks IDLE-i, FUEL-i, FENCE-i, DTC-i), one send per truck: one record batch
 * each. With fetchBytes 1 a fetch brings one record batch per partition, so a run is many fetches, each its own
 * checkpoint transaction. Returns the alerts expected (`brief` form, sorted).
 */
async function produceSets(s: Awaited<ReturnType<typeof setup>>, sets: number[]): Promise<string[]> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const i of sets) {
      for (const [topic, records] of [
        [s.topics.telemetry, idle(`IDLE-${i}`)],
        [s.topics.telemetry, siphon(`FUEL-${i}`)],
        [s.topics.telemetry, through(`FENCE-${i}`)],
        [s.topics.events, [dtc(`DTC-${i}`, 0, "raised"), dtc(`DTC-${i}`, 1, "raised"), dtc(`DTC-${i}`, 2, "cleared")]],
      ] as const) {
        await producer.send({
          topic,
          acks: -1,
          messages: records.map((r) => ({ key: r.truckId, value: JSON.stringify(r) })),
        });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return sets.flatMap((i) => EXPECTED.map((line) => line.replace(/-1 /, `-${i} `))).sort();
}

/** Whether every telemetry and events partition is read to its end by the member of `services` holding it. */
async function readAll(s: Awaited<ReturnType<typeof setup>>, services: DetectService[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const [kind, topic] of [
      ["telemetry", s.topics.telemetry],
      ["events", s.topics.events],
    ] as const) {
      for (const e of await admin.fetchTopicOffsets(topic)) {
        if (e.high === e.low) continue;
        const holder = services.find((x) =>
          x.runner.assignment().some((tp) => tp.topic === topic && tp.partition === e.partition),
        );
        if (holder?.engine()!.nextOffset(kind, e.partition) !== e.high) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

const keptRecords = async (service: DetectService) =>
  (await service.runner.metrics.registry.getSingleMetricAsString("fleetsync_pipeline_records_total"))
    .split("\n")
    .filter((l) => l.includes('result="kept"'))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);

describe("fleetsync detect", () => {
  it("writes each detector's alerts once; a restart writes none again; a replay from earliest the same ones", async () => {
    const s = await setup();
    await produce(kafka, s.topics.telemetry, [...idle("IDLE-1"), ...siphon("FUEL-1"), ...through("FENCE-1")]);
    await produce(kafka, s.topics.events, [
      dtc("DTC-1", 0, "raised"),
      dtc("DTC-1", 1, "raised"),
      dtc("DTC-1", 2, "cleared"),
    ]);

    const first = await start(s);
    const live = await readAlerts(s.topics.alerts, (a) => a.length >= EXPECTED.length, "the scenario's alerts");
    expect(brief(live)).toEqual(EXPECTED);
    await first.stop();

    // A restart resumes at the checkpoint: the moving truck closes its idling alert, and nothing else is written.
    const second = await start(s);
    await produce(kafka, s.topics.telemetry, drive("IDLE-1", [{ min: 27, kmh: 40, lat: 52.1 }], 26));
    const after = await readAlerts(s.topics.alerts, (a) => a.length >= EXPECTED.length + 1, "the closing alert");
    await waitFor(() => second.runner.ready(), "the second run in its group");
    expect(brief(after)).toEqual([...EXPECTED, "IDLE-1 idling closed v1"].sort());
    await second.stop();

    // Replay from earliest: the checkpoint no longer matches the group's offsets, state starts afresh and every
    // alert comes again with the same id, version and content (the reader drops them by id and version).
    await replayGroup({ brokers: kafkaBrokers(), groupId: s.groupId, target: { kind: "earliest" } });
    await start(s);
    const replayed = await readAlerts(s.topics.alerts, (a) => a.length >= 2 * after.length, "the replayed alerts");
    const copies = new Map<string, number>();
    for (const a of replayed) copies.set(JSON.stringify(a), (copies.get(JSON.stringify(a)) ?? 0) + 1);
    expect(copies.size).toBe(after.length);
    expect([...copies.values()].every((n) => n === 2)).toBe(true);
  });

  it("keeps its state when the group's offset is ahead of the checkpoint (a batch of duplicates only)", async () => {
    const s = await setup();
    const records = idle("KEEP-1");
    const offsetsAtEnd = async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const ends = await admin.fetchTopicOffsets(s.topics.telemetry);
        const [mine] = await admin.fetchOffsets({ groupId: s.groupId, topics: [s.topics.telemetry] });
        return ends.every(
          (e) => e.high === e.low || mine?.partitions.find((p) => p.partition === e.partition)?.offset === e.high,
        );
      } finally {
        await admin.disconnect();
      }
    };
    // 19 minutes of idling: no alert yet, the stop's start is in the checkpoint.
    await produce(kafka, s.topics.telemetry, records.slice(0, 20));
    let service = await start(s);
    await waitFor(offsetsAtEnd, "the first run to read everything");
    await service.stop();
    // The same records again (a producer's retry): the runtime drops them all and commits past them itself.
    await produce(kafka, s.topics.telemetry, records.slice(0, 20));
    service = await start(s);
    await waitFor(offsetsAtEnd, "the duplicates to be skipped");
    await service.stop();
    // The stop goes on: the idling alert opens at 20 minutes from its start, which only the kept state knows.
    await produce(kafka, s.topics.telemetry, records.slice(20));
    await start(s);
    const alerts = await readAlerts(s.topics.alerts, (a) => a.length >= 1, "the idling alert");
    expect(brief(alerts)).toEqual(["KEEP-1 idling opened v0"]);
    expect(alerts[0]!.openedAt).toBe(records[0]!.ts);
  });

  it("gives a backlog that arrives two hours late the alerts it gives live", async () => {
    const s = await setup();
    // The same records, once written as they happen (Kafka time = event time + 1 s) and once from a truck whose
    // outbox drains two hours later (Kafka time = event time + 2 h).
    const producer = kafka.producer();
    await producer.connect();
    for (const [truckId, delayMs] of [
      ["LIVE-1", 1_000],
      ["LATE-1", 2 * 60 * MIN],
    ] as const) {
      await producer.send({
        topic: s.topics.telemetry,
        acks: -1,
        messages: [...idle(truckId), ...siphon(truckId, 30, 26)].map((r) => ({
          key: r.truckId,
          value: JSON.stringify(r),
          timestamp: String(Date.parse(r.ts) + delayMs),
        })),
      });
    }
    await producer.disconnect();
    await start(s);
    const alerts = await readAlerts(s.topics.alerts, (a) => a.length >= 6, "both trucks' alerts");
    const strip = (a: Alert) => ({ ...a, id: "", truckId: "" });
    const live = alerts.filter((a) => a.truckId === "LIVE-1").map(strip);
    const backlogAlerts = alerts.filter((a) => a.truckId === "LATE-1").map(strip);
    expect(live.map((a) => `${a.detector} ${a.state}`)).toEqual(["idling opened", "idling closed", "fuel-drop opened"]);
    expect(backlogAlerts).toEqual(live);
  });

  it("drops resent and out-of-order records (in-order filter) and times nothing on the gateway's clock", async () => {
    const s = await setup();
    // A retry resends a record from inside the fence after the truck left it (same stream and seq: not above the
    // last kept, so dropped). Kept, it would put the truck back inside: a second enter.
    const resent = through("ORDER-1");
    const order = [...resent, resent[3]!];
    // No GNSS fix all along: the records count as facts but never time an idle stop (docs/pipelines.md).
    const clock = idle("CLOCK-1").map((r) => ({ ...r, timeSource: "system" as const }));
    await produce(kafka, s.topics.telemetry, [...through("CLEAN-1"), ...order, ...clock]);
    // And on the events topic: a resent "raised" after the "cleared" would reopen the code.
    await produce(kafka, s.topics.events, [
      dtc("ORDER-1", 0, "raised"),
      dtc("ORDER-1", 1, "cleared"),
      dtc("ORDER-1", 0, "raised"),
    ]);
    await start(s);
    await readAlerts(s.topics.alerts, (a) => a.length >= 4, "the trucks' alerts");
    await waitFor(async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        for (const topic of [s.topics.telemetry, s.topics.events]) {
          const [ends, [mine]] = await Promise.all([
            admin.fetchTopicOffsets(topic),
            admin.fetchOffsets({ groupId: s.groupId, topics: [topic] }),
          ]);
          const at = (p: number) => mine!.partitions.find((m) => m.partition === p)!.offset;
          if (!ends.every((e) => e.high === e.low || at(e.partition) === e.high)) return false;
        }
        return true;
      } finally {
        await admin.disconnect();
      }
    }, "every record read");
    // No others once every record is read (the sweep's silence is 10 wall minutes away).
    const alerts = (await readToEnd(kafka, s.topics.alerts)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
    const strip = (a: Alert) => ({ ...a, id: "", truckId: "" });
    const of = (id: string, detector = /geofence/) =>
      alerts.filter((a) => a.truckId === id && detector.test(a.detector)).map(strip);
    expect(of("CLEAN-1").map((a) => `${a.detector} ${a.state}`)).toEqual([
      "geofence-enter closed",
      "geofence-exit closed",
    ]);
    expect(of("ORDER-1")).toEqual(of("CLEAN-1"));
    expect(of("ORDER-1", /dtc/).map((a) => `${a.detector} ${a.state} v${a.version}`)).toEqual([
      "dtc opened v0",
      "dtc closed v1",
    ]);
    expect(of("CLOCK-1", /./)).toEqual([]);
    expect(alerts).toHaveLength(6);
  });

  it("opens a silent alert on the sweep when an active truck goes quiet, and closes it when it is heard again", async () => {
    const s = await setup();
    const now = Date.now();
    const moving = (seq: number): TelemetryRecord => ({
      ...drive("QUIET-1", [{ min: seq, rpm: 1400, kmh: 70 }], seq)[0]!,
    });
    const said = (truckId: string, reason: string): StatusRecord => ({
      truckId,
      state: "offline",
      ts: new Date(now).toISOString(),
      reason,
    });
    await produce(kafka, s.topics.telemetry, [moving(0), ...drive("BYE-1", [{ min: 0, rpm: 1400, kmh: 70 }])]);
    await produce(kafka, s.topics.status, [said("QUIET-1", "keep alive timeout"), said("BYE-1", "disconnected")]);
    // 3 s of silence is enough here; the sweep runs every 200 ms.
    await start(s, { detectors: { silent: { minutes: 0.05, sweepIntervalMs: 200 } } });
    const opened = await readAlerts(s.topics.alerts, (a) => a.length >= 1, "the silent alert");
    expect(brief(opened)).toEqual(["QUIET-1 silent opened v0"]);
    expect(opened[0]!.trigger.seq).toBe(0);
    await produce(kafka, s.topics.telemetry, [moving(1)]);
    const first = (a: Alert) => a.id === opened[0]!.id;
    const closed = await readAlerts(s.topics.alerts, (a) => a.filter(first).length >= 2, "the closing alert");
    expect(brief(closed.filter(first))).toEqual(["QUIET-1 silent closed v1", "QUIET-1 silent opened v0"]);
    // BYE-1 said goodbye (a clean MQTT disconnect): never alerted, however long the sweep watched it.
    expect(closed.some((a) => a.truckId === "BYE-1")).toBe(false);
  });
  it("calls no truck silent before fleet.status is read to its end (a goodbye behind a backlog)", async () => {
    const s = await setup();
    const now = Date.now();
    // Both trucks' last records are 10 minutes old in Kafka time: silent at the first sweep that may look.
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: s.topics.telemetry,
        acks: -1,
        // One partition for both, so every sweep that looks at one looks at the other.
        messages: ["BYE-2", "QUIET-2"].map((truckId) => ({
          partition: 0,
          key: truckId,
          value: JSON.stringify(drive(truckId, [{ min: 0, rpm: 1400, kmh: 70 }])[0]),
          timestamp: String(now - 10 * MIN),
        })),
      });
      // A backlog in fleet.status (in many small produce batches) before BYE-2's goodbye: with one record batch per
      // fetch, telemetry is read to its end at once and status only after many fetches. The sweep must wait for it.
      const status = (truckId: string, state: "online" | "offline", reason?: string): StatusRecord => ({
        truckId,
        state,
        ts: new Date(now).toISOString(),
        ...(reason ? { reason } : {}),
      });
      for (let i = 0; i < 100; i += 1) {
        await producer.send({
          topic: s.topics.status,
          acks: -1,
          messages: range(0, 2).map((j) => ({
            key: `FILL-${i}-${j}`,
            value: JSON.stringify(status(`FILL-${i}-${j}`, "online")),
          })),
        });
      }
      await producer.send({
        topic: s.topics.status,
        acks: -1,
        messages: [{ partition: 0, key: "BYE-2", value: JSON.stringify(status("BYE-2", "offline", "disconnected")) }],
      });
    } finally {
      await producer.disconnect();
    }
    await start(s, { fetchBytes: 1, detectors: { silent: { minutes: 1, sweepIntervalMs: 100 } } });
    // QUIET-2 never said goodbye: its alert shows that sweeps ran with the status read. Alerts are read in order,
    // so a silent alert for BYE-2 from an earlier sweep would be read before it.
    const alerts = await readAlerts(
      s.topics.alerts,
      (a) => a.some((x) => x.truckId === "QUIET-2"),
      "QUIET-2's silent alert",
    );
    expect(brief(alerts)).toEqual(["QUIET-2 silent opened v0"]);
  });

  it("loses no alert and writes none twice when checkpoint commits fail before, after and inside a transaction", async () => {
    // A failed commit leaves memory unsure which checkpoint is current (one whose answer was lost did commit): the
    // failed batches' partitions must come back from the changelog, or alerts go missing or come twice.
    const s = await setup();
    // 16 sets: 48 telemetry sends on 2 partitions, so one partition has at least 24 record batches and (one per
    // fetch with fetchBytes 1) the run makes at least 24 commits whatever the machine's pace: the 9th always comes.
    const expected = await produceSets(s, range(0, 16));

    // The reference: the same records read by a run whose commits all succeed.
    const reference = { ...s, groupId: `${s.groupId}-ref` };
    reference.topics = { ...s.topics, alerts: uniqueTopic("detect-alerts-ref"), changelog: uniqueTopic("detect-ref") };
    topics.push(reference.topics.alerts, reference.topics.changelog);
    const calm = await start(reference, { fetchBytes: 1 });

    // The faulty run: its 3rd commit fails before anything reaches Kafka; its 6th commits, but its answer is lost;
    // its 9th is a real transaction that Kafka aborts after some of its records were written (a value over the
    // broker's message.max.bytes in its last changelog slice).
    let commits = 0;
    const faulty = await start(s, { fetchBytes: 1 }, (config) => {
      const real = createCheckpoint(config, silentLogger);
      return {
        ...real,
        async commit(writes) {
          commits += 1;
          if (commits === 3) throw new Error("injected: the commit failed");
          if (commits === 9) {
            const huge = { seenMs: 0, filter: { stream: "x".repeat(2_000_000), seq: 0, retired: [] } };
            const poison = {
              kind: "telemetry" as const,
              partition: 0,
              updates: new Map([["POISON", huge]]),
              alerts: [],
            };
            await real.commit([...writes, poison]);
            throw new Error("the poisoned commit went through");
          }
          await real.commit(writes);
          if (commits === 6) throw new Error("injected: the commit's answer was lost");
        },
      };
    });

    await waitFor(
      async () => (await readAll(s, [calm])) && (await readAll(s, [faulty])),
      "both runs to read everything",
      { timeoutMs: 120_000 },
    );
    expect(commits).toBeGreaterThan(9);
    const failures = (await faulty.runner.metrics.registry.getSingleMetricAsString(
      "fleetsync_detect_checkpoint_failures_total",
    )) as string;
    // The three injected ones; a busy broker can fail a real commit too (the same path: it counts, and is covered).
    const failed = Number(/^fleetsync_detect_checkpoint_failures_total(?:\{[^}]*\})? (\d+)$/m.exec(failures)?.[1]);
    expect(failed).toBeGreaterThanOrEqual(3);

    const alertsOf = async (topic: string) =>
      (await readToEnd(kafka, topic)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
    const [got, want] = await Promise.all([alertsOf(s.topics.alerts), alertsOf(reference.topics.alerts)]);
    expect(brief(want)).toEqual(expected);
    // Each alert once (no copy from a batch handled twice), the same ids and contents as the calm run's.
    const exact = (alerts: Alert[]) => alerts.map((a) => JSON.stringify(a)).sort();
    expect(exact(got)).toEqual(exact(want));
    // And the same state in memory for every truck, filter positions included.
    for (const kind of ["telemetry", "events"] as const) {
      for (const partition of [0, 1]) {
        expect(new Map(faulty.engine()!.trucks(kind, partition))).toEqual(
          new Map(calm.engine()!.trucks(kind, partition)),
        );
      }
    }
  });

  it("gives the same alerts, each once, when a second member joins mid-run and takes partitions over", async () => {
    // The member giving partitions up has no transaction in flight when it rejoins (each is awaited within its
    // fetch, and kafkajs rejoins only after every batch of the fetch settled), so the new owner restores a
    // checkpoint that matches the group's offsets.
    const s = await setup();
    const expected = await produceSets(s, range(0, 100));
    const first = await start(s, { fetchBytes: 1, transactionalId: `${s.groupId}-a` });
    await waitFor(async () => (await keptRecords(first)) > 0, "the first member to read");
    // Records keep coming until the second member has read some itself, so it takes partitions over mid-run however
    // fast the first one reads.
    let more = 100;
    let joined = false;
    const producing = (async () => {
      while (!joined) {
        expected.push(...(await produceSets(s, [more])));
        more += 1;
      }
    })();
    const second = await start(s, { fetchBytes: 1, transactionalId: `${s.groupId}-b` });
    try {
      await waitFor(async () => (await keptRecords(second)) > 0, "the second member to read", { timeoutMs: 120_000 });
    } finally {
      joined = true;
      await producing;
    }
    expected.sort();
    await waitFor(() => readAll(s, [first, second]), "the two members to read everything", { timeoutMs: 120_000 });
    const alerts = (await readToEnd(kafka, s.topics.alerts)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
    expect(brief(alerts)).toEqual(expected);
  });
});
