/**
 * A serial device read as lines, kept open across unplugging: when the device goes away (USB unplugged, a pty's
 * other end closed) the port closes, and the source retries the same path with a doubling delay until it opens again.
 * The hardware sits behind `openPort` so unit tests can pass a double; the default is the real `serialport`.
 */
// The two parts `serialport` is made of, without the meta-package: it also loads eleven parsers and a mock binding
// the agent never uses (about 0.4 MB of live heap, measured with process.memoryUsage() after a full GC).
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import type { SerialPortStream as SerialPortStreamClass } from "@serialport/stream";
import { FleetError } from "../../../common/errors.ts";
import { type Logger, silentLogger } from "../../../common/log.ts";
import { repeatedLog } from "../../../common/log-limit.ts";
import type { Lifecycle } from "../types.ts";
import { serialBinding } from "./binding.ts";
import { parseConfig, type SerialLineConfig, SerialLineConfigSchema } from "./config.ts";
import { createLineSplitter } from "./line-splitter.ts";
import { LifecycleGuard } from "../../../common/lifecycle.ts";

/** The part of a serial port this source uses. */
export interface PortLike {
  open(callback: (error: Error | null) => void): void;
  close(callback: (error: Error | null) => void): void;
  write(data: string | Buffer, callback: (error: Error | null | undefined) => void): boolean;
  drain(callback: (error: Error | null) => void): void;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "close", listener: (error?: Error & { disconnected?: boolean }) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeAllListeners(): unknown;
  readonly isOpen: boolean;
}

export type OpenPort = (options: { path: string; baudRate: number }) => PortLike;

// What `new SerialPort(...)` does: the platform's binding (LinuxBinding on a Pi) under the stream, with reads that
// end at a hangup (binding.ts). Required on first use, like the binding, so importing the sources loads neither.
const require = createRequire(import.meta.url);
const realPort: OpenPort = ({ path, baudRate }) => {
  const { SerialPortStream } = require("@serialport/stream") as { SerialPortStream: typeof SerialPortStreamClass };
  return new SerialPortStream({ binding: serialBinding(), path, baudRate, autoOpen: false });
};

/** What identifies the device a path names: a replugged adapter or a new pty gets a new inode or device number. */
async function identify(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.rdev}`;
  } catch {
    return undefined;
  }
}

export interface SerialLineDeps {
  /** Called for every complete line, with the receive time (ms since the epoch). */
  onLine(line: string, receivedAtMs: number): void;
  /** Called each time the port (re)opens: adapters that need init commands send them here. */
  onOpen?(): void | Promise<void>;
  onClose?(): void;
  logger?: Logger;
  openPort?: OpenPort;
  /** ELM327's `>` prompt: emitted as a line of its own. */
  promptByte?: number;
}

export interface SerialLineCounters {
  lines: number;
  bytes: number;
  tooLong: number;
  /** Bytes of a partial line dropped when the device went away. */
  partialDropped: number;
  errors: number;
  opens: number;
  reopens: number;
  lost: number;
}

export interface SerialLineSource extends Lifecycle {
  /** Writes to the device and waits until the bytes have left; fails with FLEET_SERIAL_LOST when it is not open. */
  write(data: string | Buffer): Promise<void>;
  isOpen(): boolean;
  counters(): SerialLineCounters;
}

export function createSerialLineSource(config: SerialLineConfig, deps: SerialLineDeps): SerialLineSource {
  const settings = parseConfig(SerialLineConfigSchema, config, "serial");
  const log = deps.logger ?? silentLogger;
  const openPort = deps.openPort ?? realPort;
  const counters: SerialLineCounters = {
    lines: 0,
    bytes: 0,
    tooLong: 0,
    partialDropped: 0,
    errors: 0,
    opens: 0,
    reopens: 0,
    lost: 0,
  };
  const splitter = createLineSplitter({
    maxLineBytes: settings.maxLineBytes,
    ...(deps.promptByte === undefined ? {} : { prompt: deps.promptByte }),
    onLine(line) {
      counters.lines++;
      deps.onLine(line, Date.now());
    },
    onTooLong() {
      counters.tooLong++;
      linesCut.report({ path: settings.path, code: "FLEET_LINE_TOO_LONG", maxLineBytes: settings.maxLineBytes });
    },
  });
  // Noise at a wrong baud rate cuts thousands of lines a second; a missing device fails to open every few seconds.
  const linesCut = repeatedLog(log, "warn", "line cut", settings.logRepeatMs);
  const openFailures = repeatedLog(log, "warn", "serial port cannot be opened; retrying", settings.logRepeatMs);
  let port: PortLike | undefined;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let delay = settings.reconnectMinMs;
  let everOpened = false;
  let presenceTimer: NodeJS.Timeout | undefined;

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      attempt();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, settings.reconnectMaxMs);
  }

  function stopPresenceCheck(): void {
    if (presenceTimer) clearInterval(presenceTimer);
    presenceTimer = undefined;
  }

  /**
   * The bound on noticing a vanished device, whatever the kernel and binding report: every presenceCheckMs the path
   * must still name the device that was opened. A hangup is usually noticed at once (binding.ts); this catches what
   * reads cannot, such as a /dev/serial/by-id link now naming another adapter.
   */
  async function watchPresence(p: PortLike): Promise<void> {
    const opened = await identify(settings.path);
    if (port !== p) return;
    presenceTimer = setInterval(() => {
      void identify(settings.path).then((now) => {
        if (port === p && (opened === undefined || now !== opened)) lose(p, now === undefined ? "gone" : "replaced");
      });
    }, settings.presenceCheckMs);
    presenceTimer.unref();
  }

  /** The device went away: count it, retry the path, and close the old port without waiting for it. */
  function lose(p: PortLike, how: "closed" | "gone" | "replaced"): void {
    if (port !== p) return;
    port = undefined;
    stopPresenceCheck();
    p.removeAllListeners();
    p.on("error", () => {}); // a late error from the old port must not become an uncaught one
    if (p.isOpen) p.close(() => {});
    counters.partialDropped += splitter.reset();
    deps.onClose?.();
    if (stopped) return;
    counters.lost++;
    log.warn({ path: settings.path, code: "FLEET_SERIAL_LOST", how }, "serial port lost, reopening");
    schedule();
  }

  function attempt(): void {
    if (stopped) return;
    const p = openPort({ path: settings.path, baudRate: settings.baudRate });
    p.open((error) => {
      if (stopped) {
        if (!error) p.close(() => {});
        return;
      }
      if (error) {
        counters.errors++;
        openFailures.report({ path: settings.path, code: "FLEET_SERIAL_OPEN", err: error.message });
        p.removeAllListeners();
        schedule();
        return;
      }
      port = p;
      counters.opens++;
      if (everOpened) counters.reopens++;
      everOpened = true;
      delay = settings.reconnectMinMs;
      log.info({ path: settings.path, baudRate: settings.baudRate }, "serial port open");
      void watchPresence(p);
      Promise.resolve(deps.onOpen?.()).catch((e: unknown) => {
        counters.errors++;
        log.warn({ path: settings.path, err: (e as Error).message }, "serial onOpen failed");
      });
    });
    p.on("data", (chunk) => {
      counters.bytes += chunk.length;
      splitter.push(chunk);
    });
    p.on("error", (error) => {
      counters.errors++;
      log.warn({ path: settings.path, err: error.message }, "serial error");
    });
    p.on("close", () => lose(p, "closed"));
  }

  const life = new LifecycleGuard(`serial source ${settings.path}`);
  return {
    start: () =>
      life.start(async () => {
        stopped = false;
        attempt();
      }),
    stop: () =>
      life.stop(async () => {
        if (stopped) return;
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        stopPresenceCheck();
        const p = port;
        port = undefined;
        if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()));
        p?.removeAllListeners();
        splitter.reset();
      }),
    write(data) {
      if (life.closed)
        return Promise.reject(new FleetError("FLEET_CLOSED", `serial source ${settings.path} is stopped`));
      const p = port;
      if (!p?.isOpen) {
        return Promise.reject(new FleetError("FLEET_SERIAL_LOST", `${settings.path} is not open`));
      }
      return new Promise<void>((resolve, reject) => {
        p.write(data, (error) => {
          if (error) reject(new FleetError("FLEET_SERIAL_LOST", `write to ${settings.path} failed`, { cause: error }));
        });
        p.drain((error) => (error ? reject(error) : resolve()));
      });
    },
    isOpen: () => port?.isOpen === true,
    counters: () => ({ ...counters }),
  };
}
