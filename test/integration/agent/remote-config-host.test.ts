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
import { parseAgentConfig } from "../../../agent/config.ts";
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

  async function start(logger = pino({ level: "info" }, pino.destination("/dev/null"))) {
    dir ??= await mkdtemp(join(tmpdir(), "fleetsync-host-"));
    // A broker nobody listens on: the uplink keeps retrying, records stay in the outbox; the host does not care.
    const local = parseAgentConfig({
      truckId: TRUCK,
      broker: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnectMinMs: 1_000, reconnectMaxMs: 1_000 },
      outbox: { dir: join(dir, "outbox"), maxBytes: 8 * 1024 * 1024, ballastBytes: 0 },
      sampler: { movingPeriodMs: 4_000 },
      metrics: { enabled: false },
    });
    const host = await createAgentHost(local, { version: "test", logger });
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
});
