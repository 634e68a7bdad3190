/**
 * The load generator's reconnects (issue 21): a truck whose connection is refused comes back after a backoff that
 * doubles, with jitter, as the agent's does, so a broker that cannot take a storm at once is not hit again by every
 * truck every second. A real Aedes over TCP refuses every login and notes when each truck tried.
 */
import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import { afterEach, describe, expect, it } from "vitest";
import { createLoadRun, type LoadRun } from "../../../sim/load/load-run.ts";
import { waitFor } from "../../support/wait.ts";

const trucks = Array.from({ length: 20 }, (_, i) => `retry-${i}`);

describe("sim load mode, reconnects", () => {
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let run: LoadRun | undefined;
  afterEach(async () => {
    await run?.stop();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    await new Promise((resolve) => broker?.close(() => resolve(undefined)) ?? resolve(undefined));
  });

  it("backs off, doubling with jitter, when the broker refuses the login", async () => {
    const attempts = new Map<string, number[]>();
    broker = new Aedes({
      authenticate: (client, _username, _password, callback) => {
        const times = attempts.get(client.id) ?? [];
        times.push(performance.now());
        attempts.set(client.id, times);
        callback(null, false);
      },
    });
    await broker.listen();
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    run = createLoadRun({
      url: `mqtt://127.0.0.1:${port}`,
      truckIds: trucks,
      password: "wrong",
      protocolVersion: 4,
      durationS: 60,
      rampPerSec: 1000,
    });
    await run.start();
    await waitFor(
      () => trucks.every((t) => (attempts.get(t)?.length ?? 0) >= 3),
      "three login attempts from every truck",
      { timeoutMs: 60_000 },
    );
    const gaps = (n: number) => trucks.map((t) => attempts.get(t)![n]! - attempts.get(t)![n - 1]!);
    const first = gaps(1);
    const second = gaps(2);
    // backoffDelay(attempt, 1 s, ...): the first wait is 0.5-1.5 s, the second 1-3 s (timers never fire early; a
    // busy machine only makes them later). A 1 ms margin for timer rounding.
    for (const gap of first) expect(gap).toBeGreaterThanOrEqual(499);
    for (const gap of second) expect(gap).toBeGreaterThanOrEqual(999);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(second), "the second wait is longer than the first on average (doubling)").toBeGreaterThan(
      mean(first) * 1.3,
    );
    // Jitter: the 20 trucks' first waits are spread over the 0.5-1.5 s range, not all the same second.
    expect(Math.max(...first) - Math.min(...first), "first waits spread by jitter").toBeGreaterThan(300);
    expect(run.stats().connected).toBe(0);
  });
});
