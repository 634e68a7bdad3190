/**
 * `npm run demo`: the whole FleetSync path on one machine. It starts a local Kafka (or uses KAFKA_BROKERS), the
 * bridge as its own process with a credentials file made for the demo trucks, three simulated trucks on
 * pseudo-terminals (two with an SLCAN adapter, one with an ELM327) and three real agents (`fleetsync agent`
 * processes) reading them, each with its outbox in a temporary folder, the live map (`fleetsync map`, its URL
 * printed first), and the history pipeline (`fleetsync history`) into a throw-away PostgreSQL (or DATABASE_URL),
 * whose URL and an example query are printed. A live view shows every truck until Ctrl-C (or --duration), which
 * stops everything in order: agents, map, history, bridge, devices, PostgreSQL, Kafka, and removes the folder.
 *
 *   npm run demo [-- --duration S] [-- --plain] [-- --map-port N] [-- --outage S]
 *
 * --outage S: DEMO-1 dials the bridge through a TCP proxy that, 20 s into the view, goes silent for S seconds (a
 * tunnel): the map shows it standing still while its outbox fills, then, at the reconnect, jumping to where it is now
 * (its current state on fleet.latest, issue 20) while the trail of the outage fills in behind it.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { DEFAULT_SCRYPT } from "../../bridge/auth/credentials.ts";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import { type LocalPostgres, startLocalPostgres } from "../../deploy/postgres/local-postgres.ts";
import { createDeviceFleet, type DeviceFleet } from "../../sim/index.ts";
import { type AgentGauges, type AgentProcess, spawnAgent, writeAgentConfig } from "../e2e/agents.ts";
import { type BridgeProcess, REPO, spawnBridge, writeBridgeFiles } from "../e2e/bridge.ts";
import { type HistoryProcess, spawnHistory, writeHistoryConfig } from "../e2e/history-process.ts";
import { brokersFromEnv, type E2eKafka, startKafka } from "../e2e/kafka.ts";
import { type MapProcess, spawnMap, writeMapConfig } from "../e2e/map.ts";
import { type DetectProcess, describeAlert, spawnDetect } from "../e2e/detect-process.ts";
import { planScenarioFleet } from "../../sim/scenarios/fleet.ts";
import { runScenarios } from "../../sim/scenarios/scenario-run.ts";
import { SCENARIOS } from "../../sim/scenarios/scenarios.ts";
import { type TopicWatch, watchTopic } from "../e2e/watch.ts";
import { type CuttingProxy, startCuttingProxy } from "../faults/proxy.ts";
import { checkPrerequisites, describeMissing, installDebianPackages } from "./prereqs.ts";
import { configKafka, readReported } from "../../cli/config-kafka.ts";
import { DEFAULT_KAFKA_TOPICS } from "../../protocol/index.ts";
import { runFleetsync } from "../support/cli.ts";
import { createView, type TruckRow, type View } from "./view.ts";

const TRUCKS = [
  { truckId: "DEMO-1", can: "slcan" },
  { truckId: "DEMO-2", can: "slcan" },
  { truckId: "DEMO-3", can: "elm327" },
] as const;
const TOPIC = "fleet.telemetry";
/** The scripted truck of the demo: it idles parked for 25 simulated minutes (60x: 25 s), so the detector alerts. */
const SCENARIO_TRUCK = "DEMO-idle-1"; // as planScenarioFleet names it (prefix DEMO)
const SCENARIO_SPEED = 60;
const REFRESH_MS = 1_000;
/** The remote config change the demo makes: DEMO-1's record period halves, 1 s → 0.5 s, this long into the view. */
const CONFIG_TRUCK = "DEMO-1";
const CONFIG_AFTER_MS = 20_000;
const HALF_PERIOD = { sampler: { movingPeriodMs: 500, parkedPeriodMs: 500, minIntervalMs: 500 } };

const HELP = `Usage: npm run demo [-- options]
  --duration S   stop by itself after S seconds (default: run until Ctrl-C)
  --plain        one JSON line per refresh instead of the terminal view (the default when stdout is not a terminal)
  --map-port N   the live map's port (default 8090; another free port when 8090 is taken)
  --outage S     DEMO-1 loses its link for S seconds, 20 s into the run, then comes back: the map jumps to it
Environment: KAFKA_BROKERS=host:port,... uses an existing Kafka instead of starting the local one;
  DATABASE_URL=postgres://... an existing PostgreSQL database for the history instead of a throw-away server.
`;

interface Running {
  kafka?: E2eKafka;
  bridge?: BridgeProcess;
  map?: MapProcess;
  detect?: DetectProcess;
  postgres?: LocalPostgres;
  history?: HistoryProcess;
  /** The view's connection to the history database (rows per truck). */
  db?: pg.Client;
  devices?: DeviceFleet;
  agents: AgentProcess[];
  watch?: TopicWatch;
  /** --outage: the link of the truck that goes through a tunnel. */
  tunnel?: CuttingProxy;
  dir?: string;
}

/**
 * Stops what was started, newest first: agents (their outboxes keep what was not sent), map, history, bridge,
 * devices, PostgreSQL, Kafka.
 */
async function stopAll(r: Running, say: (text: string) => void): Promise<void> {
  const began = Date.now();
  await Promise.allSettled(r.agents.map((a) => a.stop()));
  await r.map?.stop();
  await r.detect?.stop();
  await r.history?.stop();
  await r.db?.end().catch(() => undefined);
  await r.tunnel?.close().catch(() => undefined);
  await r.bridge?.stop();
  await r.watch?.stop().catch(() => undefined);
  await r.devices?.stop();
  if (r.postgres) {
    await r.postgres.stop();
    await rm(r.postgres.dataDir, { recursive: true, force: true });
  }
  if (r.kafka) {
    if (r.kafka.local) say("stopping Kafka...");
    await r.kafka.close();
  }
  if (r.dir) await rm(r.dir, { recursive: true, force: true });
  say(
    `stopped in ${((Date.now() - began) / 1000).toFixed(1)} s: agents, map, detectors, history, bridge, simulated devices` +
      `${r.postgres ? ", PostgreSQL" : ""}${r.kafka?.local ? " and Kafka" : ""}`,
  );
}

/** Last resort if the demo dies without stopping (an exception): no child outlives it. */
function killOnExit(r: Running): void {
  process.on("exit", () => {
    // PostgreSQL needs nothing here: its server watches this process and stops when it is gone.
    for (const p of [
      ...r.agents.map((a) => a.child),
      r.bridge?.child,
      r.map?.child,
      r.detect?.child,
      r.history?.child,
    ]) {
      if (p && p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
  });
}

/** Telemetry rows per truck in the history database (the view's "in DB" column); empty when it cannot tell. */
async function rowsPerTruck(db: pg.Client | undefined): Promise<Map<string, number>> {
  if (!db) return new Map();
  try {
    const { rows } = await db.query<{ truck_id: string; n: string }>(
      "SELECT truck_id, count(*) AS n FROM telemetry GROUP BY truck_id",
    );
    return new Map(rows.map((row) => [row.truck_id, Number(row.n)]));
  } catch {
    return new Map(); // before the history's first migration, the table is not there yet
  }
}

function row(
  truck: (typeof TRUCKS)[number],
  agent: AgentProcess,
  gauges: AgentGauges | undefined,
  r: Running,
  inDatabase: Map<string, number>,
) {
  const stream = agent.stream();
  const view = stream ? r.watch!.view(truck.truckId, stream) : { records: 0, lastSeq: -1, latest: undefined };
  const lastSeq = gauges && Number.isFinite(gauges.next.telemetry) ? gauges.next.telemetry - 1 : null;
  const sim = r.devices!.stats().find((s) => s.truckId === truck.truckId);
  const latest = view.latest;
  const result: TruckRow = {
    truckId: truck.truckId,
    adapter: truck.can === "slcan" ? "SLCAN" : "ELM327",
    phase: sim?.phase ?? "-",
    lat: latest?.gps?.lat ?? null,
    lon: latest?.gps?.lon ?? null,
    speedKmh: latest?.gps?.speedKmh ?? latest?.engine?.wheelSpeedKmh ?? null,
    engineSpeedRpm: latest?.engine?.engineSpeedRpm ?? null,
    lastSeq,
    inKafka: view.records,
    kafkaSeq: view.lastSeq,
    lag: lastSeq === null ? null : Math.max(0, lastSeq - view.lastSeq),
    inDatabase: r.db ? (inDatabase.get(truck.truckId) ?? 0) : null,
    online: gauges?.connected ?? false,
  };
  return result;
}

/**
 * The remote configuration step of the demo (issue 19): `fleetsync config set` halves one truck's record period;
 * the bridge delivers it, the agent applies it live, and fleet.status says so. Messages say each step and how long
 * the truck took.
 */
async function changeConfigLater(
  dir: string,
  brokers: string[],
  configTopic: string,
  say: (text: string) => void,
  stopped: () => boolean,
): Promise<void> {
  const waitUntil = Date.now() + CONFIG_AFTER_MS;
  while (!stopped() && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 250));
  if (stopped()) return;
  const file = join(dir, "demo-1-config.json");
  await writeFile(file, `${JSON.stringify(HALF_PERIOD)}\n`);
  const topicArgs = configTopic === "fleet.config" ? [] : ["--topic", configTopic];
  say(`remote config: fleetsync config set ${CONFIG_TRUCK} --file ${file} ${topicArgs.join(" ")}`.trim());
  const setAt = Date.now();
  const set = await runFleetsync([
    "config",
    "set",
    CONFIG_TRUCK,
    "--file",
    file,
    "--brokers",
    brokers.join(","),
    ...topicArgs,
  ]);
  if (set.code !== 0) {
    say(`remote config: set failed: ${set.stderr.trim()}`);
    return;
  }
  const { version } = JSON.parse(set.stdout) as { version: number };
  say(`remote config: ${CONFIG_TRUCK} version ${version} written (record period 1 s -> 0.5 s)`);
  const options = { brokers, configTopic, statusTopic: DEFAULT_KAFKA_TOPICS.status, timeoutMs: 10_000 };
  const kafka = configKafka(options);
  const deadline = Date.now() + 60_000;
  while (!stopped() && Date.now() < deadline) {
    const reported = await readReported(kafka, options).catch(() => undefined);
    const report = reported?.get(CONFIG_TRUCK)?.config;
    // Reported after the set (fleet.status may hold an earlier run's DEMO-1 on a shared Kafka).
    if (report && (report.appliedConfigVersion ?? 0) >= version && Date.parse(report.ts) >= setAt - 1_000) {
      say(
        `remote config: ${CONFIG_TRUCK} applied version ${version} (${((Date.now() - setAt) / 1000).toFixed(1)} s after set)`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (!stopped()) say(`remote config: ${CONFIG_TRUCK} did not report version ${version} within 60 s`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      plain: { type: "boolean", default: false },
      "map-port": { type: "string", default: "8090" },
      outage: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const durationS = values.duration === undefined ? undefined : Number(values.duration);
  if (durationS !== undefined && !(durationS > 0)) {
    process.stderr.write("--duration must be a positive number of seconds\n");
    return 2;
  }
  const outageS = values.outage === undefined ? undefined : Number(values.outage);
  if (outageS !== undefined && !(outageS > 0)) {
    process.stderr.write("--outage must be a positive number of seconds\n");
    return 2;
  }
  const tty = !values.plain && process.stdout.isTTY === true;
  const view: View = createView({ tty });
  const say = (text: string) => view.message(text);

  const mapPort = Number(values["map-port"]);
  if (!Number.isInteger(mapPort) || mapPort < 0 || mapPort > 65_535) {
    process.stderr.write("--map-port must be a port number\n");
    return 2;
  }
  const ownKafka = brokersFromEnv() === undefined;
  const databaseFromEnv = process.env.DATABASE_URL?.trim() || undefined;
  const needs = { repo: REPO, ownKafka, ownDatabase: databaseFromEnv === undefined };
  // Debian packages the demo needs (socat, postgresql): installed here when root with apt-get, else the exact command
  // is named.
  installDebianPackages(checkPrerequisites(needs), (line) => process.stderr.write(`${line}\n`));
  const missing = checkPrerequisites(needs);
  if (missing.length > 0) {
    process.stderr.write(describeMissing(missing));
    return 1;
  }

  const r: Running = { agents: [] };
  /** The newest alert changes of fleetsync detect, for the view. */
  const alerts: string[] = [];
  killOnExit(r);
  let stopRequested = false;
  let wake: () => void = () => {};
  // Ends the scripted truck's scenario with the demo: awaited below, it held a Ctrl-C for up to its 30 s.
  const scriptedStop = new AbortController();
  const onSignal = () => {
    if (stopRequested) return; // Ctrl-C pressed again: the stop already under way finishes
    stopRequested = true;
    scriptedStop.abort();
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const began = Date.now();
  try {
    r.dir = await mkdtemp(join(tmpdir(), "fleetsync-demo-"));
    say(
      ownKafka
        ? "starting the local Kafka (the first run resolves the Apache Kafka jars with Maven)..."
        : `using Kafka at ${brokersFromEnv()!.join(",")}`,
    );
    r.kafka = await startKafka();
    if (stopRequested) return 0;

    const passwords = Object.fromEntries(
      [...TRUCKS.map((t) => t.truckId), SCENARIO_TRUCK].map((id) => [id, randomBytes(18).toString("base64url")]),
    );
    // On a Kafka the user runs, a topic of this run's own: the demo's config change must not outlive it.
    const configTopic = ownKafka ? "fleet.config" : `fleet.config.demo-${randomBytes(3).toString("hex")}`;
    const files = await writeBridgeFiles({
      dir: r.dir,
      brokers: r.kafka.brokers,
      trucks: passwords,
      scrypt: DEFAULT_SCRYPT,
      partitions: 3,
      forwarder: { lingerMs: 5 },
      configTopic,
    });
    say("starting the bridge...");
    r.bridge = await spawnBridge(files.configFile, { detached: true });
    if (stopRequested) return 0;

    // The detectors, before the map: detect creates fleet.alerts, which the map then reads into its event feed.
    // A new group per run, starting at the topics' end: on a shared Kafka, older runs' records are not this demo's.
    const detectConfig = join(r.dir, "detect.json");
    await writeFile(
      detectConfig,
      JSON.stringify({
        groupId: `fleetsync-detect-demo-${randomBytes(3).toString("hex")}`,
        kafka: { brokers: r.kafka.brokers },
        fromBeginning: false,
        http: { host: "127.0.0.1", port: 0 },
      }),
    );
    say("starting the detectors (fleetsync detect)...");
    r.detect = await spawnDetect(detectConfig, {
      detached: true,
      onAlert(alert) {
        const line = describeAlert(alert);
        alerts.push(line);
        if (alerts.length > 5) alerts.shift();
        if (!tty) view.message(`alert: ${line}`);
      },
    });
    if (stopRequested) return 0;

    // The map's group is new per run: it starts from the last 10 minutes of records and the compacted status.
    const mapConfig = (port: number) => ({
      groupId: `fleetsync-map-demo-${randomBytes(3).toString("hex")}`,
      kafka: { brokers: r.kafka!.brokers },
      http: { host: "127.0.0.1", port },
    });
    r.map = await spawnMap(await writeMapConfig(r.dir, mapConfig(mapPort)), { detached: true }).catch(async (error) => {
      if (mapPort === 0 || !/EADDRINUSE/.test(String(error))) throw error;
      return spawnMap(await writeMapConfig(r.dir!, mapConfig(0)), { detached: true });
    });
    say(`live map: ${r.map.url}`);
    if (stopRequested) return 0;

    let databaseUrl = databaseFromEnv;
    if (databaseUrl === undefined) {
      say("starting a throw-away PostgreSQL for the history...");
      // Its own temporary folder (not the demo's: as root the server runs as another user, who cannot enter that
      // one), removed at the stop; the server also stops by itself if this process dies.
      r.postgres = await startLocalPostgres();
      databaseUrl = r.postgres.url;
    }
    if (stopRequested) return 0;
    r.history = await spawnHistory(
      await writeHistoryConfig(r.dir, {
        groupId: `fleetsync-history-demo-${randomBytes(3).toString("hex")}`,
        kafka: { brokers: r.kafka.brokers },
        database: { url: databaseUrl },
        // Its own Kafka holds only this run: all of it. A Kafka the user runs may hold years: this run's records only.
        fromBeginning: ownKafka,
        http: { host: "127.0.0.1", port: 0 },
      }),
      { detached: true },
    );
    r.db = new pg.Client({ connectionString: databaseUrl });
    // The view's count is a nicety: a failed connection shows "-" in the view, never stops the demo.
    r.db.on("error", () => undefined);
    await r.db.connect();
    say(`history database: ${databaseUrl}`);
    say(`  try: psql "${databaseUrl}" -c "SELECT * FROM truck_daily_summary"`);
    if (stopRequested) return 0;

    r.devices = createDeviceFleet({
      dir: join(r.dir, "devices"),
      trucks: TRUCKS.map((t) => ({ truckId: t.truckId, can: t.can, nmeaHz: 1 })),
    });
    await r.devices.start();
    const bridgeUrl = `mqtt://127.0.0.1:${files.port}`;
    if (outageS !== undefined) r.tunnel = await startCuttingProxy(files.port, "demo-outage");
    for (const [index, device] of r.devices.devices().entries()) {
      const tunnelled = index === 0 && r.tunnel !== undefined;
      const metricsPort = await freePort();
      const configFile = await writeAgentConfig({
        truckId: device.truckId,
        device,
        brokerUrl: tunnelled ? `mqtt://127.0.0.1:${r.tunnel!.port}` : bridgeUrl,
        password: passwords[device.truckId]!,
        dir: join(r.dir, "agents", device.truckId),
        metricsPort,
        // One record a second, moving or parked: a view that moves, at a demo's pace.
        overrides: {
          sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000, minIntervalMs: 1_000, tickMs: 250 },
          outbox: { commitIntervalMs: 200 },
          // The tunnelled truck notices the dead link within a keepalive and is back within seconds of its end.
          ...(tunnelled ? { broker: { keepaliveS: 10, reconnectMinMs: 500, reconnectMaxMs: 2_000 } } : {}),
        },
      });
      r.agents.push(spawnAgent(configFile, metricsPort, { detached: true }));
    }
    r.watch = watchTopic({ brokers: r.kafka.brokers, topic: TOPIC });
    // The bridge created the topic at start, so the view's consumer can subscribe from the beginning.
    await r.watch.start();
    const deadline = Date.now() + 60_000;
    while (!r.agents.every((a) => a.started()) && !stopRequested) {
      const dead = r.agents.find((a) => a.child.exitCode !== null);
      if (dead) throw new Error(`an agent exited during start-up: ${dead.logTail()}`);
      if (Date.now() > deadline) throw new Error("the agents did not start within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (stopRequested) return 0;
    const startupMs = Date.now() - began;
    if (!tty) {
      process.stdout.write(
        `${JSON.stringify({
          ready: true,
          startupMs,
          dir: r.dir,
          brokers: r.kafka.brokers,
          kafkaDataDir: r.kafka.local?.dataDir ?? null,
          bridge: { pid: r.bridge.child.pid, port: files.port },
          map: { pid: r.map.child.pid, url: r.map.url },
          history: { pid: r.history.child.pid, port: r.history.port, databaseUrl },
          postgresDataDir: r.postgres?.dataDir ?? null,
          agents: r.agents.map((a, i) => ({
            truckId: TRUCKS[i]!.truckId,
            pid: a.child.pid,
            metricsPort: a.metricsPort,
          })),
        })}\n`,
      );
    } else say(`ready in ${(startupMs / 1000).toFixed(1)} s`);

    // One scripted truck (fleetsync sim scenario) at 60x real time: the idling detector alerts after its 20 minutes.
    const scenario = planScenarioFleet({
      trucks: 1,
      names: ["idle"],
      prefix: "DEMO",
      startTimeMs: Math.floor(Date.now() / 1000) * 1000,
    });
    view.message(`scripted truck ${SCENARIO_TRUCK}: ${SCENARIOS.idle.description} (${SCENARIO_SPEED}x real time)`);
    const scripted = runScenarios({
      url: bridgeUrl,
      trucks: scenario,
      speed: SCENARIO_SPEED,
      password: (truckId) => passwords[truckId]!,
      signal: scriptedStop.signal,
    }).catch((error: unknown) => view.message(`the scripted truck failed: ${(error as Error).message}`));

    const viewStart = Date.now();
    const configChange = changeConfigLater(r.dir, r.kafka.brokers, configTopic, say, () => stopRequested);
    const endAt = durationS === undefined ? Number.POSITIVE_INFINITY : viewStart + durationS * 1000;
    const tunnel = r.tunnel;
    const outageTimers: NodeJS.Timeout[] = [];
    if (tunnel && outageS !== undefined) {
      outageTimers.push(
        setTimeout(() => {
          tunnel.partition();
          view.message(
            `${TRUCKS[0].truckId} drives into a tunnel: no link for ${outageS} s (its outbox keeps every record)`,
          );
        }, 20_000),
        setTimeout(
          () => {
            tunnel.heal();
            view.message(`${TRUCKS[0].truckId} is out of the tunnel: the map jumps to it, its backlog drains behind`);
          },
          20_000 + outageS * 1000,
        ),
      );
      for (const t of outageTimers) t.unref();
    }
    while (!stopRequested && Date.now() < endAt) {
      const [gauges, inDatabase] = await Promise.all([
        Promise.all(r.agents.map((a) => a.scrape().catch(() => undefined))),
        rowsPerTruck(r.db),
      ]);
      const rows = TRUCKS.map((t, i) => row(t, r.agents[i]!, gauges[i], r, inDatabase));
      view.update(
        {
          uptimeS: (Date.now() - viewStart) / 1000,
          bridgeUrl,
          brokers: r.kafka.brokers,
          topic: TOPIC,
          mapUrl: r.map.url,
          databaseUrl,
          alerts,
        },
        rows,
      );
      for (const [i, a] of r.agents.entries()) {
        if (a.child.exitCode !== null) throw new Error(`agent ${TRUCKS[i]!.truckId} exited: ${a.logTail()}`);
      }
      if (r.bridge.child.exitCode !== null) throw new Error(`the bridge exited: ${r.bridge.logTail()}`);
      if (r.map.child.exitCode !== null) throw new Error(`the map exited: ${r.map.logTail()}`);
      if (r.detect.child.exitCode !== null) throw new Error(`the detectors exited: ${r.detect.logTail()}`);
      if (r.history.child.exitCode !== null) throw new Error(`the history exited: ${r.history.logTail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(REFRESH_MS, endAt - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const t of outageTimers) clearTimeout(t);
    // With --duration the view may end before the scenario: it ends with the view either way.
    scriptedStop.abort();
    await scripted;
    await configChange;
    const inKafka = TRUCKS.map((t, i) => r.watch!.view(t.truckId, r.agents[i]!.stream()).records);
    view.close();
    // With --duration (a test, CI): fail when a truck never reached Kafka, so a broken path cannot look like a demo.
    return durationS !== undefined && inKafka.some((n) => n === 0) ? 1 : 0;
  } catch (error) {
    view.close();
    process.stderr.write(`fleetsync demo failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    view.close();
    say("stopping...");
    await stopAll(r, say);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

process.exitCode = await main();
