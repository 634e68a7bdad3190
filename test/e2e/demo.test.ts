/**
 * `npm run demo` as a user runs it, minus the terminal: three trucks must show rising record counts in Kafka with
 * a small lag, and Ctrl-C (SIGINT) must stop everything: no agent, bridge or socat left, the temporary folder gone.
 * Uses the test run's Kafka through KAFKA_BROKERS (the demo with its own Kafka runs in the fault suite).
 */
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { kafkaBrokers } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import { type DemoRun, leftovers, runDemo } from "./demo-run.ts";

describe("npm run demo", () => {
  let demo: DemoRun | undefined;
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill("SIGKILL");
      await demo.exited;
    }
  });

  it("shows three live trucks with rising records in Kafka and stops cleanly on Ctrl-C", async () => {
    demo = runDemo(["--duration", "90"], { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(",") });
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

    // The live map runs too and shows the three trucks (its URL came first among the demo's messages).
    expect(d.messages.find((m) => m.startsWith("live map:"))).toBe(`live map: ${ready.map.url}`);
    const onMap = await mapSnapshotIds(ready.map.url);
    expect(onMap.sort()).toEqual(["DEMO-1", "DEMO-2", "DEMO-3"]);

    d.child.kill("SIGINT");
    const exit = await d.exited;
    expect(exit.code, d.stderr()).toBe(0);
    expect(d.messages.some((m) => m.startsWith("stopped in"))).toBe(true);
    expect(leftovers(ready)).toEqual([]);
  });
});

/** The truck ids of the map's WebSocket snapshot (what the page gets first). */
function mapSnapshotIds(pageUrl: string): Promise<string[]> {
  const url = new URL("ws", pageUrl.replace(/^http/, "ws"));
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("message", (data) => {
      socket.close();
      resolve((JSON.parse(String(data)) as { trucks: { id: string }[] }).trucks.map((t) => t.id));
    });
    socket.once("error", reject);
  });
}
