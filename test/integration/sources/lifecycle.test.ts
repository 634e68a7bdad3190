/**
 * The lifecycle contract (common/lifecycle.ts) run by the agent's sources: the serial ones on a real pty pair, the
 * SocketCAN one with the stand-ins of test/support/socketcan-standin (see socketcan.test.ts for why stand-ins):
 * start twice, stop twice, start after stop, a write after stop, and stop while lines are streaming in.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { createCanSource } from "../../../agent/sources/can/index.ts";
import { createGpsSource } from "../../../agent/sources/gps/gps-source.ts";
import { createSerialLineSource } from "../../../agent/sources/serial/serial-line-source.ts";
import { nmeaSentence } from "../../../sim/nmea/writer.ts";
import { lifecycleContract } from "../../support/lifecycle-contract.ts";
import { waitFor } from "../../support/wait.ts";
import { createPty, type Pty } from "./pty.ts";

const REPO = resolve(import.meta.dirname, "../../..");
const STANDIN = join(REPO, "test/support/socketcan-standin");
const CAN_FIXTURE = resolve(REPO, "../shared/fixtures/can/css-electronics/j1939_truck_11111111_00000001.candump.log");

let pty: Pty;
let standinDir: string;
beforeAll(async () => {
  pty = await createPty();
  await pty.start();
  standinDir = await mkdtemp(join(tmpdir(), "fleetsync-lifecycle-can-"));
  const state = join(standinDir, "interfaces.json");
  await writeFile(
    state,
    JSON.stringify({ interfaces: [{ name: "can0", up: true, listenOnly: true, bitrate: 250000 }] }),
  );
  process.env.FLEETSYNC_STANDIN_STATE = state;
  process.env.FLEETSYNC_STANDIN_FIXTURE = CAN_FIXTURE;
});
afterAll(async () => {
  await pty.dispose();
  await rm(standinDir, { recursive: true, force: true });
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

describe("CAN source (candump text over the pty)", () => {
  lifecycleContract(
    () => {
      let messages = 0;
      const source = createCanSource(
        { path: pty.device, baudRate: 115200, format: "candump" },
        { onMessage: () => (messages += 1) },
      );
      return {
        component: source,
        // Stopped while frames of a real truck's capture stream in.
        busy: async () => {
          await waitFor(() => source.isOpen(), "the port to open", { timeoutMs: 10_000 });
          const frames = (await readFile(CAN_FIXTURE, "utf8")).split("\n").slice(0, 20_000).join("\n");
          void pty.write(`${frames}\n`).catch(() => undefined);
          await waitFor(() => messages > 0, "a decoded CAN message", { timeoutMs: 10_000 });
          return { settled: Promise.resolve() };
        },
      };
    },
    { busy: true },
  );
});

describe("SocketCAN source (candump -L as a child process, stand-ins)", () => {
  lifecycleContract(
    () => {
      let messages = 0;
      const source = createCanSource(
        {
          format: "socketcan",
          interface: "can0",
          candumpPath: join(STANDIN, "candump"),
          ipPath: join(STANDIN, "ip"),
        },
        { onMessage: () => (messages += 1) },
      );
      return {
        component: source,
        // Stopped while candump streams: stop() ends the child process (SIGTERM, then SIGKILL after a grace).
        busy: async () => {
          await waitFor(() => messages > 50, "messages from candump", { timeoutMs: 30_000 });
          return { settled: Promise.resolve() };
        },
      };
    },
    { busy: true },
  );
});
