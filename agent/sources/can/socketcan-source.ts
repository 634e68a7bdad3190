/**
 * The CAN source for a SocketCAN interface (`can.format: "socketcan"`): can-utils' `candump -L <interface>` as a
 * supervised child process, its stdout read as candump log lines through the same decoder as a candump capture.
 * candump only binds a raw CAN socket and receives (can-utils candump.c; `-L` prints each frame with the kernel's
 * receive time and flushes it at once). What could still put bits on the bus is the CAN controller itself, which
 * acknowledges frames unless it is listen-only: so the interface is checked (`ip -details -json link show`) before
 * every start of candump, and one that is not listen-only is refused unless `allowActiveInterface` says so on
 * purpose (design promise 5). At start() that refusal is an error (the agent does not start); later (the interface
 * was reconfigured) it is logged and counted and candump stays stopped until the interface is listen-only again.
 * Supervision: a candump that exits (interface gone, bus-off, killed) is counted, its last stderr line logged, and
 * started again after a delay that doubles from reconnectMinMs to reconnectMaxMs (reset once it delivered a line).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { FleetError } from "../../../common/errors.ts";
import { LifecycleGuard } from "../../../common/lifecycle.ts";
import { type Logger, silentLogger } from "../../../common/log.ts";
import { repeatedLog } from "../../../common/log-limit.ts";
import { createCanDecoder } from "../../decoders/index.ts";
import { createLineSplitter } from "../serial/line-splitter.ts";
import type { CanSourceDeps, PortSource, SourceCounters } from "../types.ts";
import type { CanSourceSettings } from "./config.ts";
import { decoderCounters } from "./counters.ts";
import { type CanInterface, listenOnlyCommand, readCanInterface } from "./interfaces.ts";

export interface SocketCanSource extends PortSource {
  format(): "candump";
  /** The interface as last checked (undefined before the first check or when it does not exist). */
  interfaceState(): CanInterface | undefined;
}

const STOP_GRACE_MS = 2000;
const MAX_STDERR_CHARS = 2000;

export function createSocketCanSource(
  settings: CanSourceSettings,
  deps: CanSourceDeps & { logger?: Logger },
): SocketCanSource {
  const log = deps.logger ?? silentLogger;
  const name = settings.interface!;
  const decoder = createCanDecoder("candump", {
    timeoutMs: settings.transportTimeoutMs,
    maxSessions: settings.maxTransportSessions,
  });
  const counters = {
    starts: 0,
    exits: 0,
    stderrLines: 0,
    refusedNotListenOnly: 0,
    interfaceMissing: 0,
    lines: 0,
    bytes: 0,
    tooLong: 0,
  };
  let stopped = true;
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let expireTimer: NodeJS.Timeout | undefined;
  let delay = settings.reconnectMinMs;
  let lastInterface: CanInterface | undefined;
  const unavailable = repeatedLog(log, "warn", "CAN interface not usable; retrying", settings.logRepeatMs);
  const exitLog = repeatedLog(log, "warn", "candump exited; restarting", settings.logRepeatMs);

  const splitter = createLineSplitter({
    maxLineBytes: settings.maxLineBytes,
    onTooLong: () => counters.tooLong++,
    onLine: (line) => {
      counters.lines++;
      delay = settings.reconnectMinMs;
      const message = decoder.feed(line);
      if (!message) return;
      try {
        deps.onMessage(message);
      } catch (error) {
        log.error({ err: (error as Error).message }, "onMessage threw");
      }
    },
  });

  /** Whether candump may read the interface now; throws FLEET_CAN_NOT_LISTEN_ONLY when it must not. */
  async function check(): Promise<boolean> {
    const found = await readCanInterface(name, settings.ipPath);
    lastInterface = found;
    if (!found) {
      counters.interfaceMissing++;
      unavailable.report({ interface: name, reason: "no such interface" });
      return false;
    }
    if (!found.listenOnly && !settings.allowActiveInterface) {
      counters.refusedNotListenOnly++;
      throw new FleetError(
        "FLEET_CAN_NOT_LISTEN_ONLY",
        `CAN interface ${name} is not listen-only (mode: ${found.ctrlmode.join(", ") || "normal"}): its controller would acknowledge frames on the vehicle bus. Set it up with: ${listenOnlyCommand(name, settings.bitrate)} (or set can.allowActiveInterface on purpose)`,
        { details: { interface: name, ctrlmode: found.ctrlmode } },
      );
    }
    if (!found.up) {
      unavailable.report({ interface: name, reason: "interface is down" });
      return false;
    }
    if (found.bitrate !== null && found.bitrate !== settings.bitrate) {
      log.warn(
        { interface: name, bitrate: found.bitrate, configured: settings.bitrate },
        "CAN interface bitrate differs from can.bitrate",
      );
    }
    return true;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void attempt(), delay);
    timer.unref();
    delay = Math.min(delay * 2, settings.reconnectMaxMs);
  }

  async function attempt(): Promise<void> {
    timer = undefined;
    if (stopped) return;
    let ok = false;
    try {
      ok = await check();
    } catch (error) {
      log.error({ err: (error as Error).message, code: (error as FleetError).code }, "CAN interface refused");
    }
    if (stopped) return;
    if (ok) launch();
    else schedule();
  }

  function launch(): void {
    counters.starts++;
    let stderr = "";
    const c = spawn(settings.candumpPath, ["-L", name], { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    c.stdout!.on("data", (chunk: Buffer) => {
      counters.bytes += chunk.length;
      splitter.push(chunk);
    });
    c.stderr!.setEncoding("utf8");
    c.stderr!.on("data", (text: string) => {
      stderr = (stderr + text).slice(-MAX_STDERR_CHARS);
      counters.stderrLines += text.split("\n").filter((l) => l.trim() !== "").length;
    });
    exited = new Promise((resolve) => {
      c.once("error", (error: NodeJS.ErrnoException) => {
        stderr += error.code === "ENOENT" ? `${settings.candumpPath} not found: install can-utils` : error.message;
      });
      c.once("close", (code, signal) => {
        if (child === c) child = undefined;
        splitter.reset();
        if (!stopped) {
          counters.exits++;
          const last = stderr.trim().split("\n").at(-1) ?? "";
          exitLog.report({ interface: name, code, signal, stderr: last, retryMs: delay });
          schedule();
        }
        resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (expireTimer) clearInterval(expireTimer);
    expireTimer = undefined;
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      const kill = setTimeout(() => c.kill("SIGKILL"), STOP_GRACE_MS);
      kill.unref();
      await exited;
      clearTimeout(kill);
    }
  }

  const life = new LifecycleGuard(`SocketCAN source ${name}`);
  return {
    start: () =>
      life.start(async () => {
        stopped = false;
        // Refused at once, so a misconfigured interface stops the agent with the reason, not a silent retry loop.
        let ok: boolean;
        try {
          ok = await check();
        } catch (error) {
          stopped = true;
          throw error;
        }
        if (ok) launch();
        else schedule();
        // candump stamps frames with the kernel's receive time; a quiet bus sends none: expire BAM sessions by the clock.
        expireTimer = setInterval(() => decoder.expire(Date.now() / 1000), settings.transportTimeoutMs);
        expireTimer.unref();
      }),
    stop: () => life.stop(stop),
    format: () => "candump",
    interfaceState: () => lastInterface,
    isOpen: () => child !== undefined && child.exitCode === null,
    // opens/lost/errors under the serial ports' names, so the agent's port metrics and doctor read them alike.
    counters: (): SourceCounters => ({
      ...counters,
      opens: counters.starts,
      lost: counters.exits,
      errors: counters.interfaceMissing + counters.refusedNotListenOnly,
      ...decoderCounters(decoder),
    }),
  };
}
