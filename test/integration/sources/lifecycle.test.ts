/**
 * The lifecycle contract (common/lifecycle.ts) run by the agent's serial sources on a real pty pair: start twice,
 * stop twice, start after stop, a write after stop, and stop while lines are streaming in.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { createGpsSource } from "../../../agent/sources/gps/gps-source.ts";
import { createSerialLineSource } from "../../../agent/sources/serial/serial-line-source.ts";
import { lifecycleContract } from "../../support/lifecycle-contract.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty, type Pty } from "./pty.ts";

let pty: Pty;
beforeAll(async () => {
  pty = await createPty();
  await pty.start();
});
afterAll(async () => {
  await pty.dispose();
});

const lines = (n: number) => Array.from({ length: n }, (_, i) => `$LINE,${i},${"x".repeat(40)}\r\n`).join("");

describe("serial line source", () => {
  lifecycleContract(() => {
    let received = 0;
    const source = createSerialLineSource(
      { path: pty.device, baudRate: 115200, reconnectMinMs: 20, reconnectMaxMs: 200 },
      { onLine: () => (received += 1) },
    );
    return {
      component: source,
      busy: async () => {
        await waitFor(() => source.isOpen(), "the port to open", { timeoutMs: 10_000 });
        const writing = pty.write(lines(2_000));
        await waitFor(() => received > 0, "lines to stream in", { timeoutMs: 10_000 });
        return { settled: writing };
      },
      call: () => source.write("x\r"),
    };
  });
});

describe("GPS source", () => {
  lifecycleContract(() => ({
    component: createGpsSource({ path: pty.device, baudRate: 9600 }, { onFix: () => undefined }),
  }));
});
