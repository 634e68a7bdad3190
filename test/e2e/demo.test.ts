/**
 * `npm run demo` as a user runs it, minus the terminal: three trucks must show rising record counts in Kafka with
 * a small lag, drive on the live map, and fill the history database; Ctrl-C (SIGINT) must stop everything: no agent,
 * bridge, map, history or socat left, the temporary folder gone. Uses the test run's Kafka through KAFKA_BROKERS and
 * a database of its own through DATABASE_URL (the demo with its own Kafka and PostgreSQL runs in the fault suite).
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { createTestDatabase, sql, type TestDatabase } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";
import { type DemoRun, leftovers, runDemo } from "./demo-run.ts";
import { mapSnapshot } from "./map.ts";

/** The demo's scripted truck (test/demo/demo.ts): not an agent, so not in the agent rows. */
const SCRIPTED = "DEMO-idle-1";

describe("npm run demo", () => {
  let demo: DemoRun | undefined;
  let db: TestDatabase | undefined;
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill("SIGKILL");
      await demo.exited;
    }
    await db?.drop();
  });

  it("shows three live trucks with rising records in Kafka, moving on the map and filling the database; stops cleanly on Ctrl-C", async () => {
    db = await createTestDatabase("demo");
    demo = runDemo(["--duration", "120"], {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(","),
      DATABASE_URL: db.url,
    });
    const d = demo;
    await Promise.race([
      waitFor(() => d.ready(), "the demo to be ready", { timeoutMs: 60_000 }),
      d.exited.then(({ code }) => {
        throw new Error(`the demo exited with ${code} before it was ready: ${d.stderr()}`);
      }),
    ]);
    const ready = d.ready()!;
    expect(ready.agents.map((a) => a.truckId)).toEqual(["DEMO-1", "DEMO-2", "DEMO-3"]);
    // About 15 s of view: every truck reaches 10 records in Kafka (one a second), refreshed about once a second.
    await waitFor(() => d.frames.at(-1)?.trucks.every((t) => t.inKafka >= 10), "10 records per truck in Kafka", {
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    const frames = d.frames;
    expect(frames.length).toBeGreaterThanOrEqual(8);
    for (const truckId of ["DEMO-1", "DEMO-2", "DEMO-3"]) {
      const counts = frames.map((f) => f.trucks.find((t) => t.truckId === truckId)!.inKafka);
      // Rising: never falls, and grows across the run.
      expect(
        counts.every((c, i) => i === 0 || c >= counts[i - 1]!),
        `${truckId} ${counts}`,
      ).toBe(true);
      expect(counts.at(-1)!).toBeGreaterThan(counts[0]! + 5);
      const last = frames.at(-1)!.trucks.find((t) => t.truckId === truckId)!;
      expect(last.online).toBe(true);
      expect(last.lag).not.toBeNull();
      expect(last.lag!).toBeLessThanOrEqual(3);
    }

    // The live map runs too and shows the three trucks (its URL came first among the demo's messages), moving: each
    // one's position on the map changes while the demo runs.
    expect(d.messages.find((m) => m.startsWith("live map:"))).toBe(`live map: ${ready.map.url}`);
    // (The demo's scripted truck, DEMO-idle-1, is on the map too once its records arrive; it stands still.)
    const first = (await mapSnapshot(ready.map.url)).filter((t) => t.id !== SCRIPTED);
    expect(first.map((t) => t.id).sort()).toEqual(["DEMO-1", "DEMO-2", "DEMO-3"]);
    await waitFor(
      async () => {
        const now = await mapSnapshot(ready.map.url);
        return first.every((before) => {
          const after = now.find((t) => t.id === before.id);
          return after?.lat != null && (after.lat !== before.lat || after.lon !== before.lon);
        });
      },
      "every truck moving on the map",
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );

    // The history fills the database the demo names, and the view counts its rows per truck.
    expect(d.messages).toContain(`history database: ${db.url}`);
    await waitFor(() => d.frames.at(-1)?.trucks.every((t) => (t.inDatabase ?? 0) >= 5), "5 rows per truck in the DB", {
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    const rows = await sql<{ truck_id: string; n: string }>(
      db.url,
      "SELECT truck_id, count(*) AS n FROM truck_daily_summary GROUP BY truck_id ORDER BY truck_id",
    );
    expect(rows.map((r) => r.truck_id).filter((id) => id !== SCRIPTED)).toEqual(["DEMO-1", "DEMO-2", "DEMO-3"]);

    // The detectors run too: the scripted truck idles for 25 simulated minutes at 60x, so after its 20 minutes the
    // idling alert opens (then closes when it drives off), and nothing else alerts.
    const alertLines = () => d.messages.filter((m) => m.startsWith("alert: "));
    await waitFor(
      () => alertLines().some((m) => /DEMO-idle-1\s+idling\s+CLOSED/.test(m)),
      "the scripted truck's idling alert to open and close",
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(alertLines().map((m) => / (OPENED|UPDATED|CLOSED) /.exec(m)?.[1])).toEqual(["OPENED", "CLOSED"]);
    expect(
      alertLines().every((m) => /DEMO-idle-1\s+idling\s/.test(m)),
      alertLines().join("\n"),
    ).toBe(true);

    // The remote configuration step: DEMO-1's record period halves (1 s → 0.5 s) through fleetsync config set;
    // the demo says when the truck reported it applied, and from then on DEMO-1 gains records twice as fast.
    const applied = await waitFor(
      () => d.messages.find((m) => /^remote config: DEMO-1 applied version \d+/.test(m)),
      "DEMO-1 to apply the demo's config change",
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(d.messages.some((m) => m.startsWith("remote config: fleetsync config set DEMO-1 --file"))).toBe(true);
    const counts = () => {
      const f = d.frames.at(-1)!;
      return {
        one: f.trucks.find((t) => t.truckId === "DEMO-1")!.inKafka,
        two: f.trucks.find((t) => t.truckId === "DEMO-2")!.inKafka,
      };
    };
    const start = await waitFor(() => (d.frames.length > 0 ? counts() : undefined), "a frame after the change");
    await waitFor(() => counts().two >= start.two + 15, "15 more records of DEMO-2", {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const end = counts();
    expect(
      end.one - start.one,
      `${applied}: DEMO-1 ${start.one}→${end.one}, DEMO-2 ${start.two}→${end.two}`,
    ).toBeGreaterThanOrEqual(1.5 * (end.two - start.two));

    d.child.kill("SIGINT");
    const exit = await d.exited;
    expect(exit.code, d.stderr()).toBe(0);
    expect(d.messages.some((m) => m.startsWith("stopped in"))).toBe(true);
    expect(leftovers(ready)).toEqual([]);
  }, 240_000);
});
