/**
 * Done-when of issue 4: unplugging and replugging the device during a replay loses no line after the device returns.
 * The device is a real pty pair; "unplug" kills socat (the device path disappears and the open port gets EIO/close),
 * "replug" starts socat again with the same link names. A half-written line at the moment of the unplug must not be
 * glued to the first line after the return.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSerialLineSource } from "../../../agent/sources/serial/serial-line-source.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty, type Pty } from "./pty.ts";

const line = (i: number) => `$LINE,${String(i).padStart(5, "0")},${"x".repeat(40)}`;
const block = (from: number, to: number) => {
  let out = "";
  for (let i = from; i < to; i++) out += `${line(i)}\r\n`;
  return out;
};

describe("serial line source across unplug and replug", () => {
  let pty: Pty;
  beforeAll(async () => {
    pty = await createPty();
    await pty.start();
  });
  afterAll(async () => {
    await pty.dispose();
  });

  it("reopens the same path and loses no line written after the device returns", async () => {
    const received: string[] = [];
    const source = createSerialLineSource(
      { path: pty.device, baudRate: 115200, reconnectMinMs: 20, reconnectMaxMs: 200 },
      { onLine: (l) => received.push(l) },
    );
    await source.start();
    try {
      await waitFor(() => source.counters().opens === 1, "first open", { timeoutMs: 5_000 });
      await pty.write(block(0, 2000));
      await waitFor(() => received.length === 2000, "first half", { timeoutMs: 10_000 });
      await pty.write("$LINE,PARTIAL,never-finished");
      await waitFor(() => source.counters().bytes === 2000 * (line(0).length + 2) + 28, "partial line read", {
        timeoutMs: 5_000,
      });

      await pty.stop();
      await waitFor(() => source.counters().lost === 1, "device lost", { timeoutMs: 5_000 });
      expect(source.isOpen()).toBe(false);
      await pty.start();
      await waitFor(() => source.counters().reopens === 1, "device back", { timeoutMs: 10_000 });

      await pty.write(block(2000, 4000));
      await waitFor(() => received.length === 4000, "second half", { timeoutMs: 10_000 });
    } finally {
      await source.stop();
    }
    expect(received).toEqual(Array.from({ length: 4000 }, (_, i) => line(i)));
    const c = source.counters();
    expect(c.partialDropped).toBe("$LINE,PARTIAL,never-finished".length);
    expect(c.opens).toBe(2);
    expect(c.tooLong).toBe(0);
  });

  it("stop() while the device is gone clears the retry timer and is idempotent", async () => {
    await pty.stop();
    const source = createSerialLineSource(
      { path: pty.device, baudRate: 9600, reconnectMinMs: 20 },
      { onLine: () => {} },
    );
    await source.start();
    await waitFor(() => source.counters().errors >= 2, "retries while absent", { timeoutMs: 5_000 });
    await source.stop();
    await source.stop();
    const errors = source.counters().errors;
    await pty.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(source.counters().errors).toBe(errors);
    expect(source.counters().opens).toBe(0);
  });
});
