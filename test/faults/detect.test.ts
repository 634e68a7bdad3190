/**
 * Exactly the same alerts, whatever happens to `fleetsync detect` (the real command, as a child process, against
 * real Kafka). One scripted scenario set (sim/scenarios: idling, silence, siphoning, a trouble code, a geofence,
 * eight trucks each) is written to the contract's topics once; then:
 * 1. run A reads it uninterrupted;
 * 2. run B reads it while being SIGKILLed at random points (three times) and restarted;
 * 3. run B's group is replayed from earliest (`fleetsync replay`) and read again.
 * The sets of alert ids and each alert's final change are identical in all three, and runs A and B (the kills
 * included) wrote each (id, version) exactly once: the checkpoint's transaction leaves nothing half written.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import type { Kafka } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { type Alert, AlertSchema } from "../../protocol/alerts.ts";
import { planScenarioFleet, scenarioFleetFences } from "../../sim/scenarios/fleet.ts";
import { REPO } from "../e2e/bridge.ts";
import { childLifecycle, readyLine } from "../e2e/child.ts";
import { fleetsyncCommand } from "../support/build.ts";
import { createTopics, deleteTopics, kafkaBrokers, readToEnd, testKafka, uniqueTopic } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { sleep } from "./support.ts";

const run = promisify(execFile);
const kafka = testKafka("detect-faults");
const topics: string[] = [];
const children: { stop(): Promise<void> }[] = [];
let dir: string | undefined;

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await deleteTopics(kafka, topics);
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Source {
  telemetry: string;
  events: string;
  status: string;
}

/** Writes the scenario fleet's records, Kafka time = event time + 1 s (as live trucks), two hours in the past. */
async function writeScenarios(source: Source): Promise<{ fencesFile: string; records: number }> {
  const startTimeMs = Math.floor((Date.now() - 2 * 3_600_000) / 1000) * 1000;
  const fleet = planScenarioFleet({ trucks: 40, startTimeMs, prefix: `f${randomBytes(2).toString("hex")}` });
  const producer = kafka.producer();
  await producer.connect();
  let records = 0;
  try {
    for (const truck of fleet) {
      const byTopic = { telemetry: [] as object[], events: [] as object[] };
      for (const { atMs, record } of truck.plan.records) {
        byTopic[record.kind].push({
          key: truck.truckId,
          value: JSON.stringify(record.value),
          timestamp: String(startTimeMs + atMs + 1_000),
        });
      }
      for (const kind of ["telemetry", "events"] as const) {
        if (byTopic[kind].length === 0) continue;
        records += byTopic[kind].length;
        await producer.send({ topic: source[kind], acks: -1, messages: byTopic[kind] as never });
      }
    }
    // The silent trucks' connections were cut (not a goodbye): the bridge wrote offline with the error's reason.
    await producer.send({
      topic: source.status,
      acks: -1,
      messages: fleet
        .filter((t) => t.scenario === "silent")
        .map((t) => ({
          key: t.truckId,
          value: JSON.stringify({
            truckId: t.truckId,
            state: "offline",
            ts: new Date().toISOString(),
            reason: "keep alive timeout",
          }),
        })),
    });
  } finally {
    await producer.disconnect();
  }
  const fencesFile = join(dir!, "fences.json");
  await writeFile(fencesFile, JSON.stringify(scenarioFleetFences(fleet)));
  return { fencesFile, records };
}

async function configFile(name: string, source: Source, groupId: string, alerts: string, fencesFile: string) {
  const file = join(dir!, `${name}.json`);
  await writeFile(
    file,
    JSON.stringify({
      groupId,
      transactionalId: `${groupId}-tx`,
      kafka: { brokers: kafkaBrokers() },
      topics: { ...source, alerts, changelog: `${alerts}.state` },
      // Small batches: many checkpoints, so a kill lands between and inside them.
      fetchBytes: 8_192,
      detectors: { silent: { sweepIntervalMs: 300 }, geofence: { file: fencesFile } },
      http: { port: 0 },
    }),
  );
  topics.push(alerts, `${alerts}.state`);
  return file;
}

function startDetect(config: string) {
  const child = spawn(process.execPath, [...fleetsyncCommand(), "detect", "--config", config], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-4_000)));
  const life = childLifecycle(child, 10_000);
  children.push(life);
  const ready = readyLine(child, life.exited, "fleetsync detect", () => log, 60_000);
  return { ...life, ready };
}

/** True once the group's committed offsets (written in the checkpoint's transaction) reach every topic's end. */
async function caughtUp(k: Kafka, groupId: string, source: Source): Promise<boolean> {
  const admin = k.admin();
  await admin.connect();
  try {
    for (const topic of Object.values(source)) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [mine] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of ends) {
        const at = mine?.partitions.find((p) => p.partition === end.partition)?.offset ?? "-1";
        // An empty partition has no offset to commit.
        if (BigInt(end.high) > BigInt(end.low) && BigInt(at) < BigInt(end.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Every committed alert of a topic (read_committed), read to the topic's end. */
async function readAll(topic: string): Promise<Alert[]> {
  return (await readToEnd(kafka, topic)).map((r) => AlertSchema.parse(JSON.parse(r.value!)));
}

/** id -> the alert's last change (highest version). */
function finalStates(alerts: Alert[]): Map<string, string> {
  const last = new Map<string, Alert>();
  for (const a of alerts) if ((last.get(a.id)?.version ?? -1) < a.version) last.set(a.id, a);
  return new Map([...last].map(([id, a]) => [id, JSON.stringify(a)]));
}

const duplicates = (alerts: Alert[]) => alerts.length - new Set(alerts.map((a) => `${a.id}/${a.version}`)).size;

describe("fleetsync detect under faults", () => {
  it("gives identical alerts uninterrupted, SIGKILLed at random points, and after a replay from earliest", async () => {
    dir = await mkdtemp(join(tmpdir(), "detect-faults-"));
    const source = {
      telemetry: uniqueTopic("detect-f-t"),
      events: uniqueTopic("detect-f-e"),
      status: uniqueTopic("detect-f-s"),
    };
    await createTopics(
      kafka,
      Object.values(source).map((topic) => ({ topic, partitions: 3 })),
    );
    topics.push(...Object.values(source));
    const { fencesFile } = await writeScenarios(source);
    // Eight trucks per scenario, each scenario's alerts (the silent one opens on the sweep after catching up).
    const expectedIds = 8 * (1 + 1 + 2 + 1 + 2);

    // 1. Uninterrupted.
    const groupA = `detect-a-${randomBytes(3).toString("hex")}`;
    const alertsA = uniqueTopic("detect-f-alerts-a");
    const a = startDetect(await configFile("a", source, groupA, alertsA, fencesFile));
    await a.ready;
    await waitFor(() => caughtUp(kafka, groupA, source), "run A to read everything", { timeoutMs: 180_000 });
    await waitFor(async () => finalStates(await readAll(alertsA)).size >= expectedIds, "run A's silent alerts", {
      timeoutMs: 60_000,
    });
    await a.stop();
    const runA = await readAll(alertsA);

    // 2. SIGKILLed at random points while it works, restarted each time.
    const groupB = `detect-b-${randomBytes(3).toString("hex")}`;
    const alertsB = uniqueTopic("detect-f-alerts-b");
    const configB = await configFile("b", source, groupB, alertsB, fencesFile);
    for (let kill = 0; kill < 3; kill += 1) {
      const b = startDetect(configB);
      await b.ready;
      await sleep(randomInt(200, 2_500));
      await b.kill("SIGKILL");
    }
    const b = startDetect(configB);
    await b.ready;
    await waitFor(() => caughtUp(kafka, groupB, source), "run B to read everything", { timeoutMs: 180_000 });
    await waitFor(async () => finalStates(await readAll(alertsB)).size >= expectedIds, "run B's silent alerts", {
      timeoutMs: 60_000,
    });
    await b.stop();
    const runB = await readAll(alertsB);

    expect(finalStates(runA).size).toBe(expectedIds);
    expect(duplicates(runA), "run A wrote an alert change twice").toBe(0);
    expect(duplicates(runB), "run B (killed) wrote an alert change twice").toBe(0);
    expect(finalStates(runB)).toEqual(finalStates(runA));

    // 3. Replay run B's group from earliest: the same alerts again, same ids, same final changes.
    await run(
      process.execPath,
      [...fleetsyncCommand(), "replay", "--group", groupB, "--to", "earliest", "--brokers", kafkaBrokers().join(",")],
      { cwd: REPO },
    );
    const replay = startDetect(configB);
    await replay.ready;
    await waitFor(async () => (await readAll(alertsB)).length >= 2 * runB.length, "the replayed alerts", {
      timeoutMs: 180_000,
    });
    await replay.stop();
    const replayed = (await readAll(alertsB)).slice(0);
    expect(new Set(replayed.map((x) => x.id))).toEqual(new Set(runA.map((x) => x.id)));
    const secondHalf = replayed.filter((x) => !runB.some((y) => JSON.stringify(y) === JSON.stringify(x)));
    expect(secondHalf, "the replay wrote alerts the first runs did not").toEqual([]);
    expect(finalStates(replayed)).toEqual(finalStates(runA));
  });
});
