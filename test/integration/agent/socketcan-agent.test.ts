/**
 * The agent process with `can.format: "socketcan"`, through the stand-in candump and ip (this kernel has no vcan):
 * it reads the interface and reports it among its ports (open, lines, bytes); on an interface that is not
 * listen-only it does not start at all, and says why (design promise 5).
 */
import { join, resolve } from "node:path";
import { writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../deploy/kafka/local-kafka.ts";
import { waitFor } from "../../support/wait.ts";
import { killAtCleanup, REPO, spawnAgent, waitStarted, writeConfig } from "./process.ts";
import { tempDir } from "./support.ts";

const STANDIN = join(REPO, "test/support/socketcan-standin");
process.env.FLEETSYNC_STANDIN_FIXTURE = resolve(
  REPO,
  "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log",
);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function agentWith(listenOnly: boolean) {
  const tmp = await tempDir("fleetsync-socketcan-agent-");
  cleanups.push(tmp.cleanup);
  const state = join(tmp.dir, "interfaces.json");
  await writeFile(state, JSON.stringify({ interfaces: [{ name: "can0", up: true, listenOnly, bitrate: 250000 }] }));
  process.env.FLEETSYNC_STANDIN_STATE = state;
  const metricsPort = await freePort();
  const file = await writeConfig(tmp.dir, {
    truckId: "TRUCK-HAT",
    can: { format: "socketcan", interface: "can0", candumpPath: join(STANDIN, "candump"), ipPath: join(STANDIN, "ip") },
    // Nobody listens here: records wait in the outbox, which is all this test needs.
    broker: { url: "mqtt://127.0.0.1:9", protocolVersion: 4 },
    outbox: { dir: join(tmp.dir, "outbox") },
    metrics: { enabled: true, port: metricsPort },
  });
  return { agent: killAtCleanup(spawnAgent(file, { logLevel: "info" }), cleanups), metricsPort };
}

describe("the agent on a SocketCAN interface", () => {
  it("reads can0 through candump and reports it among its ports", async () => {
    const { agent, metricsPort } = await agentWith(true);
    await waitStarted(agent);
    const sample = async (name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(new RegExp(`^fleetsync_agent_${name}\\{source="can",path="can0"\\} (\\d+)$`, "m").exec(text)?.[1]);
    };
    await waitFor(async () => (await sample("serial_lines_total")) > 200, "200 candump lines counted", {
      timeoutMs: 30_000,
    });
    expect(await sample("serial_port_open")).toBe(1);
    expect(await sample("serial_opens_total")).toBe(1);
    expect(await sample("serial_bytes_total")).toBeGreaterThan(200 * 20);
    expect(agent.logs.some((l) => l.code === "FLEET_CAN_NOT_LISTEN_ONLY")).toBe(false);
  });

  it("does not start on an interface that is not listen-only, and says why", async () => {
    const { agent } = await agentWith(false);
    const exit = await agent.exited;
    expect(exit.code).not.toBe(0);
    const said = JSON.stringify(agent.logs);
    expect(said).toContain("FLEET_CAN_NOT_LISTEN_ONLY");
    expect(said).toContain("ip link set can0 up type can bitrate 250000 listen-only on");
  });
});
