/**
 * The live map in a real browser, on the real path: simulated trucks on ptys -> agents -> bridge process -> Kafka
 * -> `fleetsync map` process -> WebSocket -> Chromium. Every truck's marker appears; a clicked truck's details are
 * its newest record in Kafka; an event reaches the feed; a stopped agent goes offline; a restarted map shows the
 * fleet at once (recent history and the compacted status topic); an alert written to the alerts topic (as the
 * detect pipeline writes it) reaches the feed and jumps to its truck; a screenshot is saved.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TelemetryRecord } from "../../../protocol/records.ts";
import { REPO } from "../../e2e/bridge.ts";
import { type FleetRun, startFleetRun } from "../../e2e/fleet.ts";
import { type MapProcess, spawnMap, writeMapConfig } from "../../e2e/map.ts";
import { launchBrowser } from "../../support/browser.ts";
import { createTopics, deleteTopics, kafkaBrokers, readUntil, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { produceOpenedAlert } from "./support.ts";

const TRUCKS = 3;

let run: FleetRun;
let map: MapProcess | undefined;
let browser: Browser;
let page: Page;
let configFile: string;
// The map reads the alerts topic only when it exists at start (the detect pipeline creates it): made here first.
const alertsTopic = uniqueTopic("map-alerts");

interface PageTruck {
  id: string;
  condition: string;
  seq: number | null;
}

// The page's test handle (pipelines/map/page/app.js), evaluated as source text: this project has no DOM types.
const pageTrucks = () =>
  page.evaluate<PageTruck[]>(
    "[...fleetsyncMap.trucks.values()].map((t) => ({ id: t.id, condition: t.condition, seq: t.seq }))",
  );
const drawnIds = () => page.evaluate<string[]>("fleetsyncMap.drawnIds()");

beforeAll(async () => {
  run = await startFleetRun({ name: "map", brokers: kafkaBrokers(), trucks: TRUCKS, nmeaHz: 5 });
  await createTopics(testKafka(), [{ topic: alertsTopic, partitions: 2 }]);
  configFile = await writeMapConfig(run.dir, {
    groupId: `fleetsync-map-test-${Date.now()}`,
    kafka: { brokers: kafkaBrokers() },
    topics: {
      telemetry: run.topics.telemetry,
      events: run.topics.events,
      status: run.topics.status,
      latest: run.topics.latest,
      alerts: alertsTopic,
    },
    http: { host: "127.0.0.1", port: 0 },
    deltaIntervalMs: 100,
  });
  map = await spawnMap(configFile);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => process.stderr.write(`page error: ${error.message}\n`));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await map?.stop();
  await run?.close();
  await deleteTopics(testKafka(), [alertsTopic]);
});

describe("the live map in Chromium", () => {
  it("shows every truck, its newest record, the event feed, offline trucks, and the fleet again after a restart", async () => {
    const ids = run.agents.map((a) => a.truckId);
    await page.goto(map!.url);
    await page.waitForSelector("body[data-basemap=ready]");
    await waitFor(
      async () => {
        const drawn = new Set(await drawnIds());
        return ids.every((id) => drawn.has(id));
      },
      "every marker",
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // An event from the trucks reaches the feed (each agent announces its start on fleet.events).
    await page.waitForSelector(`#feed li[data-kind="start"][data-truck="${ids[0]}"]`, { timeout: 30_000 });

    // An alert as the detect pipeline writes it reaches the feed, marked open, and a click jumps to its truck.
    const alerted = ids[2]!;
    await produceOpenedAlert(testKafka(), alertsTopic, alerted);
    const alertEntry = `#feed li[data-kind="alert"][data-alert="opened"][data-detector="idling"][data-truck="${alerted}"]`;
    await page.waitForSelector(alertEntry, { timeout: 30_000 });
    expect(await page.textContent(alertEntry)).toContain("idling alert opened: engine running");
    await page.click(alertEntry);
    await page.waitForSelector(`#details[data-truck="${alerted}"]:not([hidden])`);

    // Freeze truck 1 (no new records), so its newest record in Kafka is final, then click it on the map.
    const target = run.agents[0]!;
    const made = await target.quiesce();
    await waitFor(() => target.depth() === 0, `${target.truckId}'s outbox drained`, { timeoutMs: 60_000 });
    const records = await readUntil(
      testKafka("map-browser-test"),
      run.topics.telemetry,
      (list) => new Set(list.filter((r) => r.key === target.truckId).map((r) => r.value)).size >= made.telemetry,
      `${made.telemetry} records of ${target.truckId}`,
    );
    const newest = records
      .filter((r) => r.key === target.truckId)
      .map((r) => JSON.parse(r.value!) as TelemetryRecord)
      .reduce((a, b) => (b.seq > a.seq ? b : a));
    expect(newest.gps?.lat).not.toBeNull();
    await waitFor(
      async () => (await pageTrucks()).find((t) => t.id === target.truckId)?.seq === newest.seq,
      "the page to hold the newest record",
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await page.evaluate(`fleetsyncMap.map.setView([${newest.gps!.lat}, ${newest.gps!.lon}], 16)`);
    const point = await waitFor(
      async () =>
        (await page.evaluate<{ x: number; y: number } | null>(
          `fleetsyncMap.pointOf(${JSON.stringify(target.truckId)})`,
        )) ?? undefined,
      "the truck drawn after zooming in",
    );
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector(`#details[data-truck="${target.truckId}"][data-seq="${newest.seq}"]`);
    const field = (name: string) => page.textContent(`#details [data-field="${name}"]`);
    expect(await field("seq")).toBe(String(newest.seq));
    expect(await field("position")).toBe(`${newest.gps!.lat!.toFixed(5)}, ${newest.gps!.lon!.toFixed(5)}`);
    expect(await field("speedKmh")).toBe(`${newest.gps!.speedKmh!.toFixed(1)} km/h`);
    expect(await field("ts")).toBe(newest.ts);
    if (newest.engine?.engineSpeedRpm != null) {
      expect(await field("engineSpeedRpm")).toBe(`${newest.engine.engineSpeedRpm.toFixed(0)} rpm`);
    }
    if (newest.engine?.fuelLevelPct != null) {
      expect(await field("fuelLevelPct")).toBe(`${newest.engine.fuelLevelPct.toFixed(1)} %`);
    }

    // Stop truck 2's agent: the bridge writes it offline on fleet.status; the page shows it and says so in the feed.
    const stopped = run.agents[1]!;
    await stopped.stop();
    await page.waitForSelector(`#feed li[data-kind="offline"][data-truck="${stopped.truckId}"]`, { timeout: 60_000 });
    expect((await pageTrucks()).find((t) => t.id === stopped.truckId)?.condition).toBe("offline");

    // A feed entry jumps to its truck.
    await page.click(`#feed li[data-kind="offline"][data-truck="${stopped.truckId}"]`);
    await page.waitForSelector(`#details[data-truck="${stopped.truckId}"][data-condition="offline"]`);

    // Restart the map: the page reconnects and, from recent history and the compacted status, shows every truck,
    // the frozen one at its newest record and the stopped one offline, without any new record from them.
    await map!.stop();
    await page.waitForSelector('#conn[data-state="closed"]');
    map = await spawnMap(configFile);
    await page.goto(map.url);
    await waitFor(
      async () => {
        const trucks = await pageTrucks();
        return (
          trucks.length === TRUCKS &&
          trucks.find((t) => t.id === target.truckId)?.seq === newest.seq &&
          trucks.find((t) => t.id === stopped.truckId)?.condition === "offline"
        );
      },
      "the whole fleet after the restart",
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // Search finds a truck and opens its details.
    await page.fill("#search", target.truckId);
    await page.press("#search", "Enter");
    await page.waitForSelector(`#details[data-truck="${target.truckId}"]:not([hidden])`);
    const shotDir = join(REPO, ".tmp");
    await mkdir(shotDir, { recursive: true });
    await page.check("#show-trails");
    await page.screenshot({ path: join(shotDir, "map-screenshot.png") });
  });
});
