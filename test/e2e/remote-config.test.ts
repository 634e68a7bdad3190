/**
 * Issue 19 end to end: `fleetsync config` → fleet.config (real Kafka) → the bridge process's downlink → MQTT →
 * `fleetsync agent` processes reading simulated GPS and CAN on ptys → applied → fleet.status. The record rate is
 * measured from what lands in Kafka, not from the agent's word. Nothing may be lost along the way: the run ends with
 * the verifier over both channels.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKafka, readReported, readWhole, writeDesired } from "../../cli/config-kafka.ts";
import { freePort } from "../../deploy/kafka/local-kafka.ts";
import type { StatusRecord } from "../../protocol/index.ts";
import { createDeviceFleet, type DeviceFleet } from "../../sim/index.ts";
import { expectNoLossNoReorder } from "../faults/support.ts";
import { runFleetsync } from "../support/cli.ts";
import { kafkaBrokers } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import {
  type AgentPlan,
  type AgentProcess,
  type ChannelCounts,
  drainWithoutSources,
  spawnAgent,
  writeAgentConfig,
} from "./agents.ts";
import { type BridgeFiles, type BridgeProcess, spawnBridge, writeBridgeFiles } from "./bridge.ts";
import { verifyChannels } from "./fleet.ts";
import { runTopics } from "./kafka.ts";

const T1 = "rcfg-1";
const T2 = "rcfg-2";
const PASSWORD = "e2e-secret-remote-config";
/** The local file's period: a record every 2 s whatever the truck does (no distance, heading or speed triggers). */
const LOCAL_SAMPLER = {
  movingPeriodMs: 2_000,
  parkedPeriodMs: 2_000,
  minIntervalMs: 0,
  distanceM: 0,
  headingDeg: 0,
  speedDeltaKmh: 0,
  tickMs: 100,
};

/**
 * What HAProxy does in front of several bridges (docs/operations.md), reduced to what the test needs: every new
 * connection goes to the bridge `target()` names; `cutAll` drops the open ones (a bridge taken out of rotation).
 */
async function startBalancer(target: () => number): Promise<{ port: number; cutAll(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(target(), "127.0.0.1");
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    open.add(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cutAll: () => {
      for (const socket of open) socket.destroy();
    },
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("remote configuration: fleet.config → bridge → agent → fleet.status", () => {
  let dir: string;
  const brokers = kafkaBrokers();
  const topics = runTopics("rcfg");
  const configTopic = topics.status.replace(".status.", ".config.");
  const options = { brokers, configTopic, statusTopic: topics.status, timeoutMs: 60_000 };
  const kafka = configKafka(options);
  let devices: DeviceFleet | undefined;
  let files: BridgeFiles;
  let bridge: BridgeProcess | undefined;
  let other: BridgeProcess | undefined;
  let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined;
  /** Which bridge new connections reach: the first (files.port) or the other one. */
  let targetPort = 0;
  const plans = new Map<string, { file: string; metricsPort: number; plan: AgentPlan }>();
  const agents = new Map<string, AgentProcess>();
  const cli = (...args: string[]) =>
    runFleetsync([
      "config",
      ...args,
      "--brokers",
      brokers.join(","),
      "--topic",
      configTopic,
      "--status-topic",
      topics.status,
    ]);

  function startAgent(truckId: string): AgentProcess {
    const { file, metricsPort } = plans.get(truckId)!;
    const agent = spawnAgent(file, metricsPort);
    agents.set(truckId, agent);
    return agent;
  }

  /** Every status record of the truck in fleet.status, oldest first. */
  async function statuses(truckId: string): Promise<StatusRecord[]> {
    const out: StatusRecord[] = [];
    await readWhole(kafka, topics.status, (key, value) => {
      if (key === truckId && value) out.push(JSON.parse(value.toString("utf8")) as StatusRecord);
    });
    return out;
  }

  async function reportedConfig(truckId: string) {
    return (await readReported(kafka, options)).get(truckId)?.config;
  }

  /** The truck's telemetry in Kafka: the record's own time and when Kafka took it. */
  async function telemetry(truckId: string): Promise<{ seq: number; ts: number; at: number }[]> {
    const out: { seq: number; ts: number; at: number }[] = [];
    await readWhole(kafka, topics.telemetry, (key, value, at) => {
      if (key !== truckId || !value) return;
      const record = JSON.parse(value.toString("utf8")) as { seq: number; ts: string };
      out.push({ seq: record.seq, ts: Date.parse(record.ts), at });
    });
    return out.sort((a, b) => a.seq - b.seq);
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  /** The median gap (record time) between consecutive records that reached Kafka within [from, to). */
  function periodMs(records: { seq: number; ts: number; at: number }[], from: number, to: number): number {
    const inside = records.filter((r) => r.at >= from && r.at < to);
    const gaps = inside.slice(1).map((r, i) => r.ts - inside[i]!.ts);
    return median(gaps);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleetsync-e2e-rcfg-"));
    devices = createDeviceFleet({
      dir: join(dir, "dev"),
      trucks: [
        { truckId: T1, can: "slcan", nmeaHz: 5 },
        { truckId: T2, can: "slcan", nmeaHz: 5 },
      ],
    });
    await devices.start();
    files = await writeBridgeFiles({
      dir,
      brokers,
      topics,
      trucks: { [T1]: PASSWORD, [T2]: PASSWORD },
      http: true,
      configTopic,
    });
    bridge = await spawnBridge(files.configFile);
    targetPort = files.port;
    balancer = await startBalancer(() => targetPort);
    for (const [i, truckId] of [T1, T2].entries()) {
      const metricsPort = await freePort();
      const plan: AgentPlan = {
        truckId,
        device: devices.devices()[i]!,
        brokerUrl: `mqtt://127.0.0.1:${balancer.port}`,
        password: PASSWORD,
        dir: join(dir, truckId),
        metricsPort,
        overrides: { sampler: LOCAL_SAMPLER },
      };
      plans.set(truckId, { file: await writeAgentConfig(plan), metricsPort, plan });
      startAgent(truckId);
    }
    for (const agent of agents.values()) {
      await waitFor(async () => (await agent.scrape().catch(() => undefined))?.connected, "agent connected", {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    }
  });

  afterAll(async () => {
    for (const agent of agents.values()) await agent.kill("SIGKILL");
    await bridge?.stop();
    await other?.stop();
    await balancer?.close();
    await devices?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("config set: the truck applies it within seconds, fleet.status shows the version, the record period halves", async () => {
    await waitFor(async () => (await telemetry(T1)).length >= 6, "six records of T1 in Kafka", {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const file = join(dir, "t1-v1.json");
    await writeFile(file, JSON.stringify({ sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000 } }));
    const setAt = Date.now();
    const set = await cli("set", T1, "--file", file);
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ truckId: T1, version: 1 });
    const setDone = Date.now();
    const applied = await waitFor(
      async () => ((await reportedConfig(T1))?.appliedConfigVersion === 1 ? Date.now() : undefined),
      "fleet.status to show T1 applied version 1",
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    // Kafka's own timestamps: the desired config written → the truck's status saying it runs it.
    let writtenAt = 0;
    await readWhole(kafka, configTopic, (key, _value, at) => {
      if (key === T1) writtenAt = at;
    });
    let reportedAt = 0;
    await readWhole(kafka, topics.status, (key, value, at) => {
      if (
        key === T1 &&
        value &&
        !reportedAt &&
        (JSON.parse(value.toString()) as StatusRecord).appliedConfigVersion === 1
      )
        reportedAt = at;
    });
    process.stdout.write(
      `remote config: \`config set\` ran ${setDone - setAt} ms; fleet.config write → applied status in fleet.status ${reportedAt - writtenAt} ms\n`,
    );
    expect(reportedAt - writtenAt).toBeLessThan(10_000);

    await waitFor(
      async () => (await telemetry(T1)).filter((r) => r.at > applied + 1_000).length >= 8,
      "eight records of T1 after the change",
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const records = await telemetry(T1);
    const before = periodMs(records, 0, setAt);
    const after = periodMs(records, applied + 1_000, Number.MAX_SAFE_INTEGER);
    process.stdout.write(`remote config: record period before ${before} ms, after ${after} ms (from Kafka)\n`);
    expect(before).toBeGreaterThanOrEqual(1_800);
    expect(before).toBeLessThanOrEqual(2_400);
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThanOrEqual(1_300);

    const get = await cli("get", T1);
    expect(JSON.parse(get.stdout)).toMatchObject({ truckId: T1, version: 1, sampler: { movingPeriodMs: 1_000 } });
    const status = await cli("status", "--json");
    expect(JSON.parse(status.stdout)).toContainEqual(
      expect.objectContaining({ truckId: T1, desiredVersion: 1, appliedVersion: 1, inSync: true, rejected: null }),
    );
  });

  it("config set refuses an invalid file with the field named, and writes nothing", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ sampler: { movingPeriodMs: 1_000 }, broker: { url: "mqtt://x" } }));
    const set = await cli("set", T1, "--file", file);
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/broker: may not be set remotely/);
    await writeFile(file, JSON.stringify({ sampler: { parkedPeriodMs: -5 } }));
    const range = await cli("set", T1, "--file", file);
    expect(range.code).toBe(1);
    expect(range.stderr).toMatch(/sampler\.parkedPeriodMs: /);
    const get = await cli("get", T1);
    expect(JSON.parse(get.stdout).version).toBe(1);
  });

  it("an invalid, disallowed, oversized or other truck's config is rejected with the reason; the truck keeps v1", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["out of range", { truckId: T1, version: 2, sampler: { movingPeriodMs: 5 } }, /^sampler\.movingPeriodMs: /],
      ["disallowed", { truckId: T1, version: 3, can: { path: "/dev/ttyUSB1" } }, /^can: may not be set remotely/],
      ["another truck's", { truckId: T2, version: 4 }, /^truckId: config is for rcfg-2, not rcfg-1/],
    ];
    for (const [what, value, reason] of cases) {
      // Straight into Kafka, as a buggy tool would: the truck is the last line of defence.
      await writeDesired(kafka, configTopic, T1, JSON.stringify(value));
      const report = await waitFor(
        async () => {
          const r = await reportedConfig(T1);
          return r?.configRejected && reason.test(r.configRejected.reason) ? r : undefined;
        },
        `T1 to report the ${what} config rejected`,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(report.appliedConfigVersion).toBe(1);
    }
    // Oversized: no bridge keeps it (so no truck gets it); the bridge counts it.
    await writeDesired(kafka, configTopic, T1, JSON.stringify({ truckId: T1, version: 5, setAt: "x".repeat(5_000) }));
    await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${bridge!.httpPort}/metrics`)).text();
        return /fleetsync_bridge_config_updates_total\{kind="too-large"\} 1/.test(text);
      },
      "the bridge to refuse the oversized config",
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const status = JSON.parse((await cli("status", "--json")).stdout) as { truckId: string; appliedVersion: number }[];
    expect(status.find((s) => s.truckId === T1)?.appliedVersion).toBe(1);
  });

  it("a change that needs a pipeline restart (preferred sources, outbox budget) applies without losing a record", async () => {
    const file = join(dir, "t1-v6.json");
    await writeFile(
      file,
      JSON.stringify({
        sampler: { movingPeriodMs: 1_000, parkedPeriodMs: 1_000 },
        state: { sources: { totalDistanceKm: [238, 23] } },
        outbox: { maxBytes: 64 * 1024 * 1024 },
      }),
    );
    const set = await cli("set", T1, "--file", file);
    expect(set.code, set.stderr).toBe(0);
    const { version } = JSON.parse(set.stdout) as { version: number };
    expect(version).toBe(6); // above every version written before (the rejected ones included)
    await waitFor(async () => (await reportedConfig(T1))?.appliedConfigVersion === version, `T1 on v${version}`, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // The new pipeline reports the version as it connects, a moment before the host logs the restart done.
    await waitFor(() => /pipeline restarted/.test(agents.get(T1)!.logTail()), "the host to log the restart");
  });

  it("offline when set three times, bridge restarted meanwhile: only the latest applies on reconnect", async () => {
    await agents.get(T2)!.stop();
    const versions: number[] = [];
    for (const period of [1_500, 1_200, 1_000]) {
      const file = join(dir, `t2-${period}.json`);
      await writeFile(file, JSON.stringify({ sampler: { movingPeriodMs: period, parkedPeriodMs: period } }));
      const set = await cli("set", T2, "--file", file);
      expect(set.code, set.stderr).toBe(0);
      versions.push((JSON.parse(set.stdout) as { version: number }).version);
    }
    expect(versions).toEqual([1, 2, 3]);
    await bridge!.stop();
    bridge = await spawnBridge(files.configFile);
    startAgent(T2);
    await waitFor(async () => (await reportedConfig(T2))?.appliedConfigVersion === 3, "T2 on v3 after reconnecting", {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const applied = new Set((await statuses(T2)).map((s) => s.appliedConfigVersion).filter((v) => v !== undefined));
    expect([...applied].sort()).toEqual([0, 3]);
  });

  it("two bridges: the truck moved to the other one keeps its config and gets the next changes there", async () => {
    await mkdir(join(dir, "other"));
    const otherFiles = await writeBridgeFiles({
      dir: join(dir, "other"),
      brokers,
      topics,
      trucks: { [T1]: PASSWORD, [T2]: PASSWORD },
      configTopic,
    });
    other = await spawnBridge(otherFiles.configFile);
    const setT1 = async (period: number) => {
      const file = join(dir, `t1-${period}.json`);
      await writeFile(file, JSON.stringify({ sampler: { movingPeriodMs: period, parkedPeriodMs: period } }));
      const set = await cli("set", T1, "--file", file);
      expect(set.code, set.stderr).toBe(0);
      return (JSON.parse(set.stdout) as { version: number }).version;
    };
    const onVersion = (version: number, where: string) =>
      waitFor(async () => (await reportedConfig(T1))?.appliedConfigVersion === version, `T1 on v${version} ${where}`, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
    const before = (await reportedConfig(T1))!.appliedConfigVersion!;
    // The first bridge leaves the rotation: the truck reconnects to the other, which answers its subscribe with
    // the same desired config (nothing to apply), then delivers the next change live.
    targetPort = otherFiles.port;
    const cutAt = Date.now();
    balancer!.cutAll();
    // The agent's own online status after the cut (the bridges' records carry no bootId): it is on the other bridge.
    await waitFor(
      async () => (await statuses(T1)).some((s) => s.bootId && s.state === "online" && Date.parse(s.ts) >= cutAt),
      "T1 online again through the other bridge",
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const next = await setT1(1_100);
    expect(next).toBe(before + 1);
    await onVersion(next, "through the other bridge");
    // Offline while it changes, back through the first bridge: the latest applies there.
    await agents.get(T1)!.stop();
    const offline = await setT1(1_000);
    targetPort = files.port;
    startAgent(T1);
    await onVersion(offline, "after reconnecting to the first bridge");
  });

  it("nothing was lost or reordered through all of it", async () => {
    for (const truckId of [T1, T2]) await agents.get(truckId)!.stop();
    const expected: Record<string, ChannelCounts> = {};
    for (const truckId of [T1, T2]) {
      const { plan, metricsPort } = plans.get(truckId)!;
      expected[truckId] = await drainWithoutSources({ ...plan, metricsPort }, (drain) => agents.set(truckId, drain));
    }
    const { telemetry: telemetryResult, events } = await verifyChannels({
      brokers,
      topics,
      expected,
      timeoutMs: 60_000,
    });
    expectNoLossNoReorder("remote config", { telemetry: telemetryResult, events });
    // One stream per truck: the pipeline restarts reopened the same outbox.
    expect(telemetryResult.trucks[T1]!.streams).toHaveLength(1);
  });
});
