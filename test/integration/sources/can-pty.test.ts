/**
 * The CAN source against an adapter on a real pty: the test plays the adapter on the other end, so it sees every
 * byte the source sends. Checks design promise 5 (SLCAN opened listen-only, nothing else sent) and that frames from
 * the fixture decode through the whole serial path; ELM327 monitor mode survives BUFFER FULL by re-sending AT MA.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CanFrame } from "../../../agent/decoders/can/frame.ts";
import {
  elmInitCommands,
  encodeElmLine,
  encodeSlcanLine,
  parseCandumpLine,
} from "../../../agent/decoders/can/index.ts";
import { createCanSource } from "../../../agent/sources/can/index.ts";
import type { CanMessage } from "../../../agent/sources/types.ts";
import { waitFor } from "../../support/wait.ts";
import { openPtyPeer } from "../../support/pty-peer.ts";
import { createPty, type Pty } from "./pty.ts";

const TRUCK = fileURLToPath(
  new URL("../../../../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log", import.meta.url),
);

function truckFrames(count: number): CanFrame[] {
  const out: CanFrame[] = [];
  for (const line of readFileSync(TRUCK, "utf8").split("\n")) {
    const r = parseCandumpLine(line);
    if (r.kind === "frame" && r.frame.extended) out.push(r.frame);
    if (out.length === count) break;
  }
  return out;
}

describe("CAN source over a pseudo-terminal", () => {
  let pty: Pty;
  beforeEach(async () => {
    pty = await createPty();
    await pty.start();
  });
  afterEach(async () => {
    await pty.dispose();
  });

  it("auto: a bus that stays silent through detection is detected later, without a reopen", async () => {
    // The adapter is a plain pipe (candump text): it answers no command, so the first round finds nothing.
    const adapter = await openPtyPeer(pty.feeder);
    const source = createCanSource(
      { path: pty.device, format: "auto", detectMs: 100, detectRetryMs: 300, commandTimeoutMs: 100 },
      { onMessage: () => {} },
    );
    try {
      await source.start();
      await waitFor(() => (source.counters().detectRounds ?? 0) >= 2, "a second detection round", {
        timeoutMs: 10_000,
      });
      expect(source.format()).toBeUndefined();
      // The bus wakes up: 40 frames every 20 ms (about a truck's rate), each write waiting for the previous one.
      const lines = readFileSync(TRUCK, "utf8").split("\n").slice(0, 4000);
      let streaming = true;
      const pump = (async () => {
        for (let i = 0; streaming; i = (i + 40) % 4000) {
          await adapter.write(`${lines.slice(i, i + 40).join("\n")}\n`);
          await new Promise((r) => setTimeout(r, 20));
        }
      })().catch(() => {});
      try {
        await waitFor(() => source.format() === "candump", "candump detected", { timeoutMs: 10_000 });
        await waitFor(() => (source.counters().frames ?? 0) > 100, "frames decoded", { timeoutMs: 10_000 }).catch(
          (error: unknown) => {
            throw new Error(`${(error as Error).message}; counters ${JSON.stringify(source.counters())}`);
          },
        );
      } finally {
        streaming = false;
        await pump;
      }
      expect(source.counters().opens).toBe(1);
    } finally {
      await source.stop();
      await adapter.close();
    }
  });

  it("SLCAN: sends only close, bitrate, listen-only open, then decodes the truck's frames", async () => {
    const adapter = await openPtyPeer(pty.feeder);
    const messages: CanMessage[] = [];
    const source = createCanSource(
      { path: pty.device, format: "slcan", bitrate: 250_000 },
      { onMessage: (m) => messages.push(m) },
    );
    try {
      await source.start();
      await waitFor(() => adapter.received() === "C\rS5\rL\r", "SLCAN init sequence", { timeoutMs: 5_000 });
      const frames = truckFrames(3000);
      await adapter.write(`${frames.map((f) => encodeSlcanLine(f)).join("\r")}\r`);
      await waitFor(() => source.counters().frames === 3000, "3000 frames", { timeoutMs: 10_000 });
      const rpm = messages.filter((m) => m.kind === "j1939" && m.name === "EEC1").at(-1)?.signals.engineSpeedRpm;
      // Idling near 649 rpm (EEC1 SPN 190, 0.125 rpm/bit); the first seconds of the capture wander a few rpm.
      expect(rpm).toBeGreaterThan(640);
      expect(rpm).toBeLessThan(660);
      // Promise 5: the whole conversation from our side is the listen-only open.
      expect(adapter.received()).toBe("C\rS5\rL\r");
      expect(adapter.received()).not.toMatch(/O\r|[tTrR][0-9A-F]/);
    } finally {
      await source.stop();
      await adapter.close();
    }
  });

  it("ELM327: monitor-mode init, survives noise, restarts AT MA after BUFFER FULL", async () => {
    const adapter = await openPtyPeer(pty.feeder);
    const messages: CanMessage[] = [];
    const source = createCanSource(
      { path: pty.device, format: "elm327", bitrate: 250_000, commandTimeoutMs: 2_000 },
      { onMessage: (m) => messages.push(m) },
    );
    // The fake chip answers each command with OK and a prompt.
    let answered = 0;
    const timer = setInterval(() => {
      const commands = adapter.received().split("\r").length - 1;
      while (answered < commands) {
        answered++;
        void adapter.write(answered === 1 ? "\r\rELM327 v1.5\r\r>" : "OK\r\r>");
      }
    }, 5);
    try {
      await source.start();
      await waitFor(() => adapter.received().endsWith("AT MA\r"), "monitor started", { timeoutMs: 10_000 });
      expect(adapter.received()).toBe(elmInitCommands("A").join(""));
      expect(adapter.received()).toContain("AT JHF0\r"); // the J1939 header format pinned (ELM327 data sheet)
      clearInterval(timer);
      const frames = truckFrames(500);
      const lines = frames.map((f) => encodeElmLine(f));
      lines.splice(100, 0, "SEARCHING...", "DATA ERROR", "<DATA ERROR", "CAN ERROR", "?");
      lines.splice(300, 0, "BUFFER FULL");
      await adapter.write(`${lines.join("\r")}\r`);
      await waitFor(() => source.counters().frames === 500, "500 frames", { timeoutMs: 10_000 });
      await waitFor(() => adapter.received().endsWith("AT MA\rAT MA\r"), "monitor restarted", { timeoutMs: 5_000 });
      const c = source.counters();
      expect(c.adapterErrors).toBe(5);
      expect(c.restartsAfterBufferFull).toBe(1);
      expect(messages.some((m) => m.kind === "j1939" && m.name === "EEC1")).toBe(true);
    } finally {
      clearInterval(timer);
      await source.stop();
      await adapter.close();
    }
  });
});
