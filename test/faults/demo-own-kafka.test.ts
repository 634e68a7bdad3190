/**
 * `npm run demo` as on a fresh machine with no Kafka and no database: it starts its own local broker and its own
 * throw-away PostgreSQL, runs for --duration, and stops everything by itself: no agent, bridge, socat, java or
 * postgres process left, no folder. (The test in npm test runs the demo against the test run's Kafka and database
 * and stops it with Ctrl-C.)
 */
import { afterAll, describe, expect, it } from "vitest";
import { type DemoRun, leftovers, runDemo } from "../e2e/demo-run.ts";

describe("npm run demo with its own Kafka", () => {
  let demo: DemoRun | undefined;
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill("SIGKILL");
      await demo.exited;
    }
  });

  it("runs for --duration 20 with rising records in Kafka, then leaves nothing behind", async () => {
    const env = { ...process.env };
    delete env.KAFKA_BROKERS;
    delete env.DATABASE_URL;
    const began = Date.now();
    demo = runDemo(["--duration", "20"], env);
    const exit = await demo.exited;
    expect(exit.code, demo.stderr()).toBe(0);
    const ready = demo.ready();
    expect(ready, demo.stderr()).toBeDefined();
    expect(ready!.kafkaDataDir).not.toBeNull();
    expect(ready!.postgresDataDir).not.toBeNull();
    process.stdout.write(
      `demo with its own Kafka: ready after ${ready!.startupMs} ms, whole run ${Date.now() - began} ms\n`,
    );
    const last = demo.frames.at(-1)!;
    for (const t of last.trucks) {
      expect(t.inKafka, t.truckId).toBeGreaterThanOrEqual(12);
      // The history read the run's Kafka from its start: the database holds nearly all of it.
      expect(t.inDatabase, t.truckId).toBeGreaterThanOrEqual(10);
    }
    expect(demo.frames.length).toBeGreaterThanOrEqual(15);
    expect(leftovers(ready!)).toEqual([]);
  });
});
