/**
 * The CAN source: a serial CAN adapter → decoded J1939 / OBD-II messages. On every (re)open the adapter gets its
 * init sequence, and only sequences that keep it off the bus: SLCAN close / bitrate / listen-only open (`L`, never
 * `O`: design promise 5), ELM327 monitor mode (`AT MA`, silent monitoring). candump needs no init. Nothing this
 * source sends ever puts a frame on the bus; OBD-II polling, which would, is not part of it.
 * `format: "socketcan"` reads a CAN network interface instead (socketcan-source.ts).
 */
import { LifecycleGuard } from "../../../common/lifecycle.ts";
import { type Logger, silentLogger } from "../../../common/log.ts";
import { repeatedLog } from "../../../common/log-limit.ts";
import {
  type CanDecoder,
  type CanFormat,
  createCanDecoder,
  detectCanFormat,
  elmInitCommands,
  slcanInitCommands,
} from "../../decoders/index.ts";
import { parseConfig } from "../serial/config.ts";
import { createSerialLineSource, type OpenPort } from "../serial/serial-line-source.ts";
import type { CanSourceDeps, PortSource, SourceCounters } from "../types.ts";
import { type CanSourceConfig, CanSourceConfigSchema, type CanSourceSettings } from "./config.ts";
import { decoderCounters } from "./counters.ts";
import { createSocketCanSource } from "./socketcan-source.ts";

export interface CanSource extends PortSource {
  /** The line format in use (after auto-detection), or undefined while still detecting. */
  format(): CanFormat | undefined;
}

const PROMPT = 0x3e; // ">"

export function elmProtocolFor(settings: Pick<CanSourceSettings, "bitrate" | "elmProtocol">): string {
  return settings.elmProtocol ?? (settings.bitrate === 250_000 ? "A" : "6");
}

export function createCanSource(
  config: CanSourceConfig,
  deps: CanSourceDeps & { logger?: Logger; openPort?: OpenPort },
): CanSource {
  const settings = parseConfig(CanSourceConfigSchema, config, "can");
  if (settings.format === "socketcan") return createSocketCanSource(settings, deps);
  const wanted = settings.format;
  const path = settings.path!; // the schema requires a path for every serial format
  const { bitrate, commandTimeoutMs, detectMs, transportTimeoutMs, maxTransportSessions } = settings;
  const transport = { timeoutMs: transportTimeoutMs, maxSessions: maxTransportSessions };
  let decoder: CanDecoder | undefined = wanted === "auto" ? undefined : createCanDecoder(wanted, transport);
  const sample: string[] = [];
  let replyWaiter: (() => void) | undefined;
  let initRuns = 0;
  let detectRounds = 0;
  let restartsAfterBufferFull = 0;
  let stopped = true;
  let expireTimer: NodeJS.Timeout | undefined;
  /** Bumped on every (re)open and on stop: a detection loop of an older open ends at its next step. */
  let detection = 0;
  let detectWait: { timer: NodeJS.Timeout; resolve(): void } | undefined;
  const noFormat = repeatedLog(
    deps.logger ?? silentLogger,
    "warn",
    "no CAN frames seen in any format; trying again",
    settings.logRepeatMs,
  );

  const serial = createSerialLineSource(
    {
      path,
      baudRate: settings.baudRate,
      maxLineBytes: settings.maxLineBytes,
      reconnectMinMs: settings.reconnectMinMs,
      reconnectMaxMs: settings.reconnectMaxMs,
      presenceCheckMs: settings.presenceCheckMs,
      logRepeatMs: settings.logRepeatMs,
    },
    {
      promptByte: PROMPT,
      onLine,
      onOpen: () => init(),
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.openPort ? { openPort: deps.openPort } : {}),
    },
  );

  function onLine(line: string, at: number): void {
    if (replyWaiter && /^(>|OK|\?|ELM|STN)/.test(line.trim())) replyWaiter();
    if (!decoder) {
      if (sample.length < 64) sample.push(line);
      return;
    }
    const message = decoder.feed(line, at / 1000);
    if (decoder.format === "elm327" && /BUFFER FULL|STOPPED/.test(line)) void restartMonitor();
    if (!message) return;
    try {
      deps.onMessage(message);
    } catch (error) {
      deps.logger?.error({ err: (error as Error).message }, "onMessage threw");
    }
  }

  /** Sends one command and waits for a reply line or prompt (ELM327 ignores input while it is busy). */
  async function command(text: string): Promise<void> {
    await serial.write(text);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, commandTimeoutMs);
      timer.unref();
      function done() {
        clearTimeout(timer);
        replyWaiter = undefined;
        resolve();
      }
      replyWaiter = done;
    });
  }

  async function restartMonitor(): Promise<void> {
    restartsAfterBufferFull++;
    await serial.write("AT MA\r").catch(() => {});
  }

  async function initFormat(format: CanFormat): Promise<void> {
    initRuns++;
    // SLCAN acknowledges with a bare CR (no line to wait for) and executes commands in order: write them in turn.
    if (format === "slcan") for (const c of slcanInitCommands(bitrate)) await serial.write(c);
    else if (format === "elm327") for (const c of elmInitCommands(elmProtocolFor(settings))) await command(c);
  }

  async function listen(): Promise<CanFormat | undefined> {
    sample.length = 0;
    await new Promise((resolve) => setTimeout(resolve, detectMs).unref());
    return detectCanFormat(sample);
  }

  /** Waits detectRetryMs; stop() ends the wait at once. */
  function detectPause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        detectWait = undefined;
        resolve();
      }, settings.detectRetryMs);
      timer.unref();
      detectWait = { timer, resolve };
    });
  }

  async function init(): Promise<void> {
    if (wanted !== "auto") return initFormat(wanted);
    // Auto: something already streaming (candump through a pipe, an adapter left open) is taken as it is; then the
    // SLCAN listen-only open; then ELM327 monitor mode. Each step only listens or sends listen-only commands. A round
    // that finds nothing is tried again while the port stays open: the bus may simply be asleep (ignition off).
    decoder = undefined;
    const mine = ++detection;
    const current = () => !stopped && mine === detection;
    for (;;) {
      detectRounds++;
      let found = await listen();
      for (const attempt of ["slcan", "elm327"] as const) {
        if (found || !current()) break;
        await initFormat(attempt);
        found = await listen();
      }
      if (!current()) return;
      if (found) {
        decoder = createCanDecoder(found, transport);
        for (const line of sample.splice(0)) onLine(line, Date.now());
        return;
      }
      noFormat.report({ path, rounds: detectRounds, retryMs: settings.detectRetryMs });
      await detectPause();
      if (!current() || !serial.isOpen()) return;
    }
  }

  async function stop(): Promise<void> {
    stopped = true;
    detection++;
    if (detectWait) {
      clearTimeout(detectWait.timer);
      detectWait.resolve();
      detectWait = undefined;
    }
    if (expireTimer) clearInterval(expireTimer);
    expireTimer = undefined;
    replyWaiter?.();
    await serial.stop();
  }

  const life = new LifecycleGuard(`CAN source ${path}`);
  return {
    start: () =>
      life.start(async () => {
        stopped = false;
        await serial.start();
        // Lines carry no time on SLCAN/ELM327, and a quiet bus sends no frame: expire BAM sessions by the clock too.
        expireTimer = setInterval(() => decoder?.expire(Date.now() / 1000), transportTimeoutMs);
        expireTimer.unref();
      }),
    stop: () => life.stop(stop),
    format: () => decoder?.format,
    isOpen: () => serial.isOpen(),
    counters(): SourceCounters {
      const flat: Record<string, number> = { ...serial.counters(), initRuns, detectRounds, restartsAfterBufferFull };
      if (decoder) Object.assign(flat, decoderCounters(decoder));
      return flat;
    },
  };
}
