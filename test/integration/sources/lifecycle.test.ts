/**
 * The lifecycle contract (common/lifecycle.ts) run by the agent's serial sources on a real pty pair: start twice,
 * stop twice, start after stop, a write after stop, and stop while lines are streaming in.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { createGpsSource } from "../../../agent/sources/gps/gps-source.ts";
import { createSerialLineSource } from "../../../agent/sources/serial/serial-line-source.ts";
import { nmeaSentence } from "../../../sim/nmea/writer.ts";
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

/** Many one-second epochs of a valid fix (GGA + RMC with checksums), as a receiver prints them. */
const EPOCHS = Array.from({ length: 500 }, (_, i) => {
  const t = `12${String(Math.floor(i / 60) % 60).padStart(2, "0")}${String(i % 60).padStart(2, "0")}.00`;
  return (
    `${nmeaSentence(`GPGGA,${t},5231.2000,N,01324.3000,E,1,09,0.9,34.5,M,46.9,M,,`)}\r\n` +
    `${nmeaSentence(`GPRMC,${t},A,5231.2000,N,01324.3000,E,33.0,90.5,301126,,,A`)}\r\n`
  );
}).join("");

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
        // Not awaited: once the source stops, nobody reads the pty, and the rest of the write waits for the dispose.
        void pty.write(lines(2_000)).catch(() => undefined);
        await waitFor(() => received > 0, "lines to stream in", { timeoutMs: 10_000 });
        // The source holds no caller's work: reading is its own, and stop() ends it.
        return { settled: Promise.resolve() };
      },
      call: () => source.write("x\r"),
    };
  });
});

describe("GPS source", () => {
  lifecycleContract(
    () => {
      let fixes = 0;
      const source = createGpsSource({ path: pty.device, baudRate: 9600 }, { onFix: () => (fixes += 1) });
      return {
        component: source,
        // Stopped while NMEA sentences stream in (the same GGA+RMC epoch, many times).
        busy: async () => {
          await waitFor(() => source.isOpen(), "the port to open", { timeoutMs: 10_000 });
          void pty.write(EPOCHS).catch(() => undefined);
          await waitFor(() => fixes > 0, "a fix", { timeoutMs: 10_000 });
          return { settled: Promise.resolve() };
        },
      };
    },
    { busy: true },
  );
});
