/**
 * Issue 19, the agent's side without a broker: the host around a real agent (LevelDB outbox on disk) applies a
 * remote config live or by restarting the pipeline, refuses a bad one whole, persists what it applied and comes
 * back on it after a restart.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createAgent } from "../../../agent/agent.ts";
import { parseAgentConfig } from "../../../agent/config.ts";
import { isFleetError } from "../../../common/errors.ts";
import { holdPort } from "../../support/held-port.ts";
import { type AgentHost, createAgentHost, overlayFile } from "../../../agent/remote-config/index.ts";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";

const TRUCK = "TRK-host-1";
const payload = (value: object) => Buffer.from(JSON.stringify({ truckId: TRUCK, ...value }));

describe("agent host: remote config applied live or by a pipeline restart", () => {
  let dir: string | undefined;
  const hosts: AgentHost[] = [];
  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function start(
    logger = pino({ level: "info" }, pino.destination("/dev/null")),
    make: typeof createAgent = createAgent,
  ) {
    dir ??= await mkdtemp(join(tmpdir(), "fleetsync-host-"));
    // A broker nobody listens on: the uplink keeps retrying, records stay in the outbox; the host does not care.
    const local = parseAgentConfig({
      truckId: TRUCK,
      broker: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnectMinMs: 1_000, reconnectMaxMs: 1_000 },
      outbox: { dir: join(dir, "outbox"), maxBytes: 8 * 1024 * 1024, ballastBytes: 0 },
      sampler: { movingPeriodMs: 4_000 },
      metrics: { enabled: false },
    });
    const host = await createAgentHost(local, { version: "test", logger, createAgent: make });
    hosts.push(host);
    await host.start();
    return { host, local, logger };
  }

  it("applies sampler and log level live, the rest by restarting the pipeline on the same outbox", async () => {
    const { host, local, logger } = await start();
    const first = host.agent();
    host.receive(payload({ version: 1, sampler: { movingPeriodMs: 1_000 }, logLevel: "debug" }));
    await host.whenSettled();
    expect(host.agent()).toBe(first); // live: same pipeline
    expect(host.effective().sampler.movingPeriodMs).toBe(1_000);
    expect(logger.level).toBe("debug");
    expect(host.report()).toEqual({ appliedConfigVersion: 1 });

    const stream = first.outbox.stream;
    host.receive(payload({ version: 2, outbox: { maxBytes: 4 * 1024 * 1024 } }));
    await host.whenSettled();
    expect(host.agent()).not.toBe(first); // restarted
    expect(host.agent().outbox.stream).toBe(stream); // the same outbox: the stream goes on
    expect(host.effective().outbox.maxBytes).toBe(4 * 1024 * 1024);
    expect(host.effective().sampler.movingPeriodMs).toBe(4_000); // v2 does not name it: the local value
    expect(logger.level).toBe("info");
    expect(JSON.parse(await readFile(overlayFile(local), "utf8"))).toMatchObject({ version: 2 });
  });

  it("refuses a bad config whole and keeps what it had; an empty payload removes the override", async () => {
    const { host, local } = await start();
    host.receive(payload({ version: 1, sampler: { movingPeriodMs: 2_000 } }));
    await host.whenSettled();
    for (const [value, reason] of [
      [{ version: 2, sampler: { movingPeriodMs: 1_000 }, broker: { url: "mqtt://x" } }, /^broker: may not be set/],
      [{ version: 3, outbox: { maxBytes: 16 * 1024 * 1024 } }, /^outbox\.maxBytes: .* above the local maximum/],
    ] as const) {
      host.receive(payload(value));
      await host.whenSettled();
      expect(host.report()).toMatchObject({
        appliedConfigVersion: 1,
        configRejected: { version: value.version, reason: expect.stringMatching(reason) },
      });
      expect(host.effective().sampler.movingPeriodMs).toBe(2_000);
    }
    host.receive(Buffer.alloc(0));
    await host.whenSettled();
    expect(host.report().appliedConfigVersion).toBe(0);
    expect(host.effective().sampler.movingPeriodMs).toBe(4_000);
    await expect(readFile(overlayFile(local))).rejects.toThrow(/ENOENT/);
  });

  it("comes back on the applied overlay after a restart", async () => {
    const { host } = await start();
    host.receive(payload({ version: 5, sampler: { movingPeriodMs: 1_500 } }));
    await host.whenSettled();
    await host.stop();
    hosts.splice(0);
    const again = await start();
    expect(again.host.report()).toEqual({ appliedConfigVersion: 5 });
    expect(again.host.effective().sampler.movingPeriodMs).toBe(1_500);
  });

  /**
   * Makes real agents; the ones numbered in `blocked` (1 = the first) meet their metrics port taken by another
   * program at start, as a truck does whose port was grabbed while the pipeline restarted (a real EADDRINUSE).
   */
  function agentsMeetingATakenPort(port: number, blocked: number[]): typeof createAgent {
    let made = 0;
    return (config, deps) => {
      made += 1;
      if (!blocked.includes(made)) return createAgent(config, deps);
      return createAgent({ ...config, metrics: { ...config.metrics, enabled: true, host: "127.0.0.1", port } }, deps);
    };
  }

  const stillPending = (promise: Promise<unknown>) =>
    Promise.race([promise.then(() => false), new Promise<boolean>((resolve) => setImmediate(() => resolve(true)))]);

  it("when the previous remote config fails to start too, runs on the local file alone and persists that", async () => {
    const held = await holdPort();
    try {
      // 1: the first agent; then v2 (2) and v1 again (3) meet the taken port; the local file alone (4) does not.
      const { host, local } = await start(undefined, agentsMeetingATakenPort(held.port, [2, 3]));
      host.receive(payload({ version: 1, sampler: { movingPeriodMs: 2_000 } }));
      await host.whenSettled();
      expect(host.report()).toEqual({ appliedConfigVersion: 1 });
      host.receive(payload({ version: 2, outbox: { maxBytes: 4 * 1024 * 1024 } }));
      await host.whenSettled();
      expect(host.report()).toMatchObject({
        appliedConfigVersion: 0,
        configRejected: {
          version: 2,
          reason: expect.stringMatching(/^pipeline did not start with it: metrics\.port:/),
        },
      });
      expect(host.effective()).toEqual(local);
      await expect(readFile(overlayFile(local))).rejects.toThrow(/ENOENT/);
      // An agent runs: its outbox is open (a stopped one refuses reads).
      await expect(host.agent().outbox.read("telemetry", 0, 1, { peek: true })).resolves.toEqual([]);
      expect(await stillPending(host.failed)).toBe(true);
      // The bridge sends v2 again on the next connect: it is not tried again (it would start now: the port is only
      // taken for agents 2 and 3), the truck stays on the local file and v2's rejection stays reported.
      const running = host.agent();
      host.receive(payload({ version: 2, outbox: { maxBytes: 4 * 1024 * 1024 } }));
      await host.whenSettled();
      expect(host.agent()).toBe(running);
      expect(host.report()).toMatchObject({ appliedConfigVersion: 0, configRejected: { version: 2 } });
    } finally {
      await held.release();
    }
  });

  it("when nothing starts, not even the local file, says so through `failed` (the process exits non-zero)", async () => {
    const held = await holdPort();
    try {
      const { host } = await start(undefined, agentsMeetingATakenPort(held.port, [2, 3, 4]));
      host.receive(payload({ version: 1, sampler: { movingPeriodMs: 2_000 } }));
      await host.whenSettled();
      host.receive(payload({ version: 2, outbox: { maxBytes: 4 * 1024 * 1024 } }));
      await host.whenSettled();
      const why = await host.failed;
      expect(isFleetError(why, "FLEET_CONFIG_INVALID")).toBe(true);
      expect(why.message).toMatch(/^metrics\.port: 127\.0\.0\.1:\d+ is in use/);
    } finally {
      await held.release();
    }
  });
});
