/**
 * Two `fleetsync detect` processes started with the same configuration, which names no `transactionalId`: they share
 * the group's partitions and both keep committing. With one transactional id for both (the group id, the default
 * before), the second one's start fenced the first, whose next checkpoint failed with a fencing error.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Alert } from "../../../protocol/alerts.ts";
import type { EventRecord } from "../../../protocol/records.ts";
import { type DetectProcess, spawnDetect } from "../../e2e/detect-process.ts";
import { createTopics, deleteTopics, kafkaBrokers, readToEnd, testKafka, uniqueTopic } from "../../support/kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { produce } from "./support.ts";

const kafka = testKafka("detect-members-test");
const topics: string[] = [];
const members: DetectProcess[] = [];
let dir: string | undefined;

afterAll(async () => {
  await Promise.all(members.map((m) => m.stop()));
  await deleteTopics(kafka, topics);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A trouble code raised: one `dtc` alert opened for the truck. */
const raised = (truckId: string): EventRecord => ({
  truckId,
  stream: "00000000000000dd",
  seq: 0,
  ts: new Date(Date.UTC(2026, 10, 30, 6)).toISOString(),
  timeSource: "gnss",
  type: "dtc",
  change: "raised",
  dtc: { j1939: { spn: 100, fmi: 1, oc: 1, sa: 0 } },
});

describe("fleetsync detect with two members and the default configuration", () => {
  it("shares the partitions: neither fences the other, every alert is written once", async () => {
    const t = {
      telemetry: uniqueTopic("members-t"),
      events: uniqueTopic("members-e"),
      status: uniqueTopic("members-s"),
      alerts: uniqueTopic("members-alerts"),
      changelog: uniqueTopic("members-state"),
    };
    topics.push(...Object.values(t));
    await createTopics(kafka, [
      { topic: t.telemetry, partitions: 2 },
      { topic: t.events, partitions: 2 },
      { topic: t.status, partitions: 2 },
    ]);
    dir = await mkdtemp(join(tmpdir(), "fleetsync-detect-members-"));
    const configFile = join(dir, "detect.json");
    // No transactionalId: what an operator starting a second instance of the same deployment has.
    const config = {
      groupId: `detect-members-${randomBytes(4).toString("hex")}`,
      kafka: { brokers: kafkaBrokers() },
      topics: t,
      http: { port: 0 },
    };
    await writeFile(configFile, JSON.stringify(config));

    const printed = [new Set<string>(), new Set<string>()];
    let trucks = 0;
    const more = async (count: number) => {
      const records = Array.from({ length: count }, () => raised(`M-${(trucks += 1)}`));
      await produce(kafka, t.events, records);
    };
    await more(20);
    members.push(await spawnDetect(configFile, { onAlert: (a: Alert) => printed[0]!.add(a.truckId) }));
    await waitFor(() => printed[0]!.size > 0, "the first member's first alert", { timeoutMs: 60_000 });
    members.push(await spawnDetect(configFile, { onAlert: (a: Alert) => printed[1]!.add(a.truckId) }));
    // Trouble codes keep coming until each member has committed alerts of its own since the second one started:
    // both hold partitions and both can still commit.
    const atJoin = printed[0]!.size;
    await waitFor(
      async () => {
        await more(4);
        return printed[0]!.size > atJoin && printed[1]!.size > 0;
      },
      "alerts committed by both members",
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    for (const member of members) expect(member.child.exitCode, member.logTail()).toBeNull();

    // With one transactional id for both, the fenced member retried its partition's batch forever ("Producer
    // attempted an operation with an old epoch" in its log): that partition's alerts never came.
    const alerts = await waitFor(
      async () => {
        const all = (await readToEnd(kafka, t.alerts)).map((r) => JSON.parse(r.value!) as Alert);
        return all.length >= trucks && all;
      },
      `${trucks} alerts`,
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; the members' logs:\n${members.map((m) => m.logTail()).join("\n")}`);
    });
    const opened = alerts.map((a) => `${a.truckId} ${a.detector} ${a.state}`).sort();
    const expected = Array.from({ length: trucks }, (_, i) => `M-${i + 1} dtc opened`).sort();
    expect(opened).toEqual(expected);
    for (const member of members) expect(member.child.exitCode, member.logTail()).toBeNull();
  });
});
