/**
 * `npm run demo:detect [-- --scenario NAME] [-- --speed X]`: the detectors, shown. Starts Kafka (or uses
 * KAFKA_BROKERS), the bridge and `fleetsync detect` as processes, then drives scripted trucks (`fleetsync sim
 * scenario`: idling, a silent truck, siphoning, a trouble code, a geofence; or one of them) through the bridge at
 * 60x real time, and prints every alert change the detector writes to fleet.alerts as it comes. Exits 0 when every
 * scenario gave the alerts it should, 1 otherwise (so CI can run it), and stops everything it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { Alert } from "../../protocol/alerts.ts";
import { planScenarioFleet, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../sim/scenarios/scenario-run.ts";
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from "../../sim/scenarios/scenarios.ts";
import { REPO, spawnBridge, writeBridgeFiles } from "../e2e/bridge.ts";
import { childLifecycle, readyLine } from "../e2e/child.ts";
import { runTopics, startKafka } from "../e2e/kafka.ts";
import { fleetsyncCommand } from "../support/build.ts";

const HELP = `Usage: npm run demo:detect [-- options]
  --scenario NAME   ${SCENARIO_NAMES.join(" | ")} | all (default all)
  --speed X         simulated seconds per wall second (default 60: the 25-minute stop takes 25 s)
Environment: KAFKA_BROKERS=host:port,... uses an existing Kafka instead of starting the local one.
`;

const say = (text: string) => process.stdout.write(`${text}\n`);
const clock = () => new Date().toISOString().slice(11, 19);

function describe(a: Alert): string {
  const subject = a.subject ? ` [${a.subject}]` : "";
  return `${clock()}  ${a.truckId.padEnd(18)} ${`${a.detector}${subject}`.padEnd(34)} ${a.state.toUpperCase().padEnd(7)} ${a.message}  (event time ${a.at.slice(11, 19)}, id ${a.id.slice(0, 8)})`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "all" },
      speed: { type: "string", default: "60" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const name = values.scenario!;
  if (name !== "all" && !(SCENARIO_NAMES as readonly string[]).includes(name)) {
    process.stderr.write(HELP);
    return 2;
  }
  const speed = Number(values.speed);
  const names = name === "all" ? SCENARIO_NAMES : [name as ScenarioName];
  const trucks = planScenarioFleet({
    trucks: names.length,
    names,
    prefix: "DEMO",
    startTimeMs: Math.floor(Date.now() / 1000) * 1000,
  });
  const want = trucks.flatMap((t) => SCENARIOS[t.scenario].expected.map((e) => `${t.truckId} ${e}`)).sort();

  const dir = await mkdtemp(join(tmpdir(), "fleetsync-demo-detect-"));
  const kafka = await startKafka();
  let detect: { child: ChildProcess; stop(): Promise<void> } | undefined;
  let bridge: Awaited<ReturnType<typeof spawnBridge>> | undefined;
  try {
    // Topics of this run (a shared Kafka may hold other runs' records, which a new group would read too).
    const topics = runTopics("demo-detect");
    const files = await writeBridgeFiles({
      dir,
      brokers: kafka.brokers,
      topics,
      trucks: Object.fromEntries(trucks.map((t) => [t.truckId, `demo-${t.truckId}`])),
      partitions: 3,
    });
    say("starting the bridge...");
    bridge = await spawnBridge(files.configFile, { detached: true });
    const fences = join(dir, "fences.geojson");
    await writeFile(fences, JSON.stringify(scenarioFleetFences(trucks)));
    const config = join(dir, "detect.json");
    await writeFile(
      config,
      JSON.stringify({
        // A new group per run: the demo's alerts are this run's. Silence is wall-clock: 30 s here, 10 min by default.
        groupId: `fleetsync-detect-demo-${Date.now().toString(36)}`,
        transactionalId: `fleetsync-detect-demo-${Date.now().toString(36)}`,
        kafka: { brokers: kafka.brokers },
        topics: {
          telemetry: topics.telemetry,
          events: topics.events,
          status: topics.status,
          alerts: topics.telemetry.replace(".telemetry.", ".alerts."),
          changelog: topics.telemetry.replace(".telemetry.", ".detect-state."),
        },
        detectors: { silent: { minutes: 0.5, sweepIntervalMs: 1_000 }, geofence: { file: fences } },
        http: { port: 0 },
      }),
    );
    say("starting fleetsync detect...");
    const child = spawn(process.execPath, [...fleetsyncCommand(), "detect", "--config", config], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FLEETSYNC_LOG_LEVEL: "warn" },
    });
    let tail = "";
    child.stderr!.on("data", (c: Buffer) => (tail = (tail + c.toString()).slice(-4_000)));
    const life = childLifecycle(child, 10_000);
    detect = { child, stop: life.stop };
    const seen: string[] = [];
    let allSeen: () => void = () => {};
    const complete = new Promise<void>((resolve) => (allSeen = resolve));
    await readyLine(child, life.exited, "fleetsync detect", () => tail, 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith('{"alert"')) return;
      const alert = (JSON.parse(line) as { alert: Alert }).alert;
      say(describe(alert));
      seen.push(`${alert.truckId} ${alert.detector}:${alert.state}`);
      if (seen.length >= want.length) allSeen();
    });

    say(`\ndriving ${trucks.length} scripted truck(s) through the bridge at ${speed}x real time:`);
    for (const t of trucks) say(`  ${t.truckId.padEnd(18)} ${SCENARIOS[t.scenario].description}`);
    say("\nalerts (time, truck, detector, state, what):");
    const summary = await runScenarios({
      url: `mqtt://127.0.0.1:${files.port}`,
      trucks,
      speed,
      password: (truckId) => `demo-${truckId}`,
    });
    say(`(scenarios done: ${summary.records} records in ${(summary.wallMs / 1000).toFixed(1)} s)`);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 90_000).unref());
    await Promise.race([complete, timeout]);
    const ok = JSON.stringify([...seen].sort()) === JSON.stringify(want);
    say(
      ok ? "\nevery scenario gave its alerts, and no others." : `\nexpected ${want.join(", ")}; got ${seen.join(", ")}`,
    );
    return ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`demo:detect failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await detect?.stop();
    await bridge?.stop();
    await kafka.close();
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
