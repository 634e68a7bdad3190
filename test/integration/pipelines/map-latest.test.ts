/**
 * The live map on real Kafka reads fleet.latest (issue 20): a truck back from two hours offline jumps to its current
 * state as soon as that is on the latest topic, while its backlog, arriving later on telemetry with older times,
 * extends its trail and never moves it back.
 */
import { randomBytes } from "node:crypto";
import type { Producer } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { createMapService, type MapService, parseMapConfig } from "../../../pipelines/map/index.ts";
import { createTopics, deleteTopics, kafkaBrokers, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { telemetry } from "./support.ts";

const kafka = testKafka("map-latest-test");
const HOUR = 3_600_000;
let map: MapService | undefined;
let producer: Producer | undefined;
const made: string[] = [];

afterAll(async () => {
  await producer?.disconnect();
  await map?.stop();
  await deleteTopics(kafka, made);
});

describe("the live map and fleet.latest", () => {
  it("shows a returning truck where it is now; its older backlog fills the trail without moving it back", async () => {
    const t = {
      telemetry: uniqueTopic("map-latest-t"),
      events: uniqueTopic("map-latest-e"),
      status: uniqueTopic("map-latest-s"),
      latest: uniqueTopic("map-latest-l"),
    };
    made.push(...Object.values(t));
    await createTopics(
      kafka,
      Object.values(t).map((topic) => ({ topic, partitions: 1 })),
    );
    // Whole seconds, two hours ago: the records' times as a GNSS receiver gives them.
    const start = Math.floor((Date.now() - 2 * HOUR) / 1000) * 1000;
    const at = (ms: number) => new Date(start + ms).toISOString();
    const p = (producer = kafka.producer());
    await p.connect();
    const send = (topic: string, records: ReturnType<typeof telemetry>[]) =>
      p.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.truckId, value: JSON.stringify(r) })),
      });
    // Before the tunnel: seq 0 two hours ago.
    await send(t.telemetry, [telemetry("BACK", 0, { ts: at(0) })]);
    map = createMapService(
      parseMapConfig({
        groupId: `map-latest-${randomBytes(4).toString("hex")}`,
        kafka: { brokers: kafkaBrokers() },
        // alerts named too (never created): left out, it is read as production's fleet.alerts.
        topics: { ...t, alerts: uniqueTopic("map-latest-a") },
        http: { host: "127.0.0.1", port: 0 },
      }),
    );
    await map.start();
    const state = map.state;
    await waitFor(() => state.get("BACK")?.seq === 0, "the truck before its outage");

    // Back: the current state (seq 7200, now) on the latest topic before any of the backlog.
    await send(t.latest, [telemetry("BACK", 7_200, { ts: at(2 * HOUR) })]);
    await waitFor(() => state.get("BACK")?.ts === at(2 * HOUR), "the truck at its current state");
    expect(state.get("BACK")).toMatchObject({ lat: 48.72, lon: 11.72, seq: 0 });

    // The backlog drains behind it: older records extend the trail, the truck stays where it is now.
    await send(
      t.telemetry,
      [1, 2, 3].map((seq) => telemetry("BACK", seq, { ts: at(seq * 1000) })),
    );
    await waitFor(() => state.get("BACK")?.seq === 3, "the backlog read");
    expect(state.get("BACK")).toMatchObject({ lat: 48.72, ts: at(2 * HOUR) });
    expect(state.trail("BACK").at(-1)).toEqual([48.0003, 11.0003]);

    // Telemetry catching up past it moves the truck on as usual.
    await send(t.telemetry, [telemetry("BACK", 7_201, { ts: at(2 * HOUR + 1000) })]);
    await waitFor(() => state.get("BACK")?.seq === 7_201, "telemetry caught up");
    expect(state.get("BACK")).toMatchObject({ lat: 48.7201, ts: at(2 * HOUR + 1000) });
  });
});
