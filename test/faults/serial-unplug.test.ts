/**
 * Fault: a truck's serial devices are unplugged (socat stops, the device path disappears, as when a USB cable is
 * pulled) and plugged back at the same path as fresh adapters, closed, as after power-up. The agent must notice,
 * reopen both ports, send the listen-only/monitor init again (the adapters stream nothing until then), and lose no
 * record meanwhile.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kafkaBrokers } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";
import type { InProcessAgent } from "../e2e/agents.ts";
import { type FleetRun, startFleetRun } from "../e2e/fleet.ts";
import { expectNoLossNoReorder, sleep } from "./support.ts";

const counter = (agent: InProcessAgent, source: "gps" | "can", name: string) => agent[source]?.counters()[name] ?? 0;

describe("fault: serial device unplugged and replugged", () => {
  let run: FleetRun | undefined;
  afterAll(async () => {
    await run?.close();
  });

  it("the agent reopens and re-inits both devices; no record is lost", async () => {
    // Truck 1 has an SLCAN adapter, truck 3 an ELM327: both init sequences are exercised on replug.
    run = await startFleetRun({ name: "f-unplug", brokers: kafkaBrokers(), trucks: 3 });
    const r = run;
    await r.waitAcked(100);
    const pulled = [r.agents[0]!, r.agents[2]!];
    expect(pulled.map((a) => r.devices.devices().find((d) => d.truckId === a.truckId)!.canProtocol)).toEqual([
      "slcan",
      "elm327",
    ]);
    // Records can flow from the GPS alone: make sure both ports are open and streaming before pulling them (a CAN
    // port still in its open-retry backoff has nothing to lose, and the wait below would time out).
    await waitFor(
      () => pulled.every((a) => counter(a, "gps", "lines") > 0 && counter(a, "can", "j1939Messages") > 0),
      "both ports of the trucks to unplug open and streaming",
      { timeoutMs: 20_000 },
    );
    for (const a of pulled) {
      await r.devices.unplug(a.truckId, "gps");
      await r.devices.unplug(a.truckId, "can");
    }
    // The agent's documented bound is presenceCheckMs (1 s by default): a hung-up tty is noticed at once, a path
    // that no longer names the opened device within that interval. The deadline leaves room for a busy machine.
    await waitFor(
      () => pulled.every((a) => counter(a, "gps", "lost") >= 1 && counter(a, "can", "lost") >= 1),
      "the agents to notice both devices gone",
      { timeoutMs: 10_000 },
    ).catch((error: unknown) => {
      const state = pulled.map((a) => ({ truckId: a.truckId, gps: a.gps?.counters(), can: a.can?.counters() }));
      throw new Error(`${(error as Error).message}; source counters: ${JSON.stringify(state)}`);
    });
    await sleep(3_000); // unplugged for a while: the agent keeps trying to reopen
    const before = pulled.map((a) => ({
      nmea: counter(a, "gps", "lines"),
      j1939: counter(a, "can", "j1939Messages"),
      inits: counter(a, "can", "initRuns"),
    }));
    for (const a of pulled) {
      await r.devices.replug(a.truckId, "gps");
      await r.devices.replug(a.truckId, "can");
    }
    // Fresh adapters stream only after the agent's init: new J1939 messages prove the re-init happened.
    await waitFor(
      () =>
        pulled.every(
          (a, i) =>
            counter(a, "gps", "lines") > before[i]!.nmea + 10 &&
            counter(a, "can", "j1939Messages") > before[i]!.j1939 + 100 &&
            counter(a, "can", "initRuns") > before[i]!.inits,
        ),
      "NMEA and J1939 again after the replug",
      { timeoutMs: 20_000 },
    );
    for (const a of pulled) expect(counter(a, "can", "invalid"), a.truckId).toBe(0);
    const result = await r.finish();
    expectNoLossNoReorder("serial unplug/replug", result);
  });
});
