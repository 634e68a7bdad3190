/**
 * For `doctor`: what is on this serial port? Opens it, listens, and says whether it sees NMEA (talkers, sentence
 * types, the latest fix) or CAN frames (line format, frames/s, engine speed if present). A port that stays silent is
 * then asked, at the speeds CAN adapters use, whether it is an ELM327/STN or SLCAN adapter (ask.ts: the exact bytes,
 * none of which transmits on the bus), and a found adapter is opened the agent's way to see its traffic. Last, for
 * adapters that answer nothing to `V`, the bare SLCAN listen-only open (close, bitrate, `L`).
 */
import { readdir } from "node:fs/promises";
import { detectCanFormat } from "../../decoders/can/detect.ts";
import type { CanFormat } from "../../decoders/can/frame.ts";
import { slcanInitCommands } from "../../decoders/can/slcan.ts";
import { elmProtocolFor } from "../can/can-source.ts";
import { type AdapterIdentity, askAdapter } from "./ask.ts";
import { createCanDecoder } from "../../decoders/can-decoder.ts";
import { createNmeaAssembler } from "../../decoders/nmea/epoch.ts";
import { parseSentence } from "../../decoders/nmea/sentence.ts";
import { createSerialLineSource, type OpenPort } from "../serial/serial-line-source.ts";
import { AGENT_NOT_BEFORE_MS, createGnssClock, type GnssTimeCounters } from "../../state/gnss-time.ts";
import type { GpsFix } from "../types.ts";

/** Where ELM327 clones and STN chips ship (38400), and the speeds installers and OBDLink adapters are set to. */
export const ADAPTER_BAUD_RATES = [38400, 9600, 115200, 230400, 500000];

export interface ProbeOptions {
  /** Listened at in order (a GPS talks on its own); the first at which something is recognised wins. */
  baudRates?: number[];
  /** Asked at in order when listening found nothing (default ADAPTER_BAUD_RATES; [] = never ask). */
  askBaudRates?: number[];
  /** How long to wait for an adapter's reply to each question. */
  replyMs?: number;
  /** ELM327 protocol for monitoring (default from the bitrate, as the agent chooses it). */
  elmProtocol?: string;
  /** How long to listen at each step. */
  listenMs?: number;
  /** CAN bitrate for the SLCAN listen-only open. */
  canBitrate?: number;
  /** Send the SLCAN listen-only open when listening alone found nothing (default true). */
  trySlcan?: boolean;
  openPort?: OpenPort;
}

export interface ProbeResult {
  path: string;
  /** `adapter`: a CAN adapter answered but no frame came (ignition off, wrong bitrate). */
  kind: "nmea" | "can" | "adapter" | "nothing" | "unreadable";
  baudRate: number | null;
  lines: number;
  nmea?: {
    talkers: string[];
    sentenceTypes: string[];
    sentences: number;
    badChecksum: number;
    fix: GpsFix | null;
    /** What the agent's clock would have made of these epochs' times (agent/state/gnss-time.ts). */
    gnssTime: GnssTimeCounters;
  };
  can?: {
    format: CanFormat;
    frames: number;
    framesPerSec: number;
    engineSpeedRpm: number | null;
    pgns: number[];
    /** Per decoded PGN (by name), the source addresses that send it: several ECUs often send the same PGN. */
    sources: Record<string, number[]>;
  };
  /** The adapter that answered doctor's questions, and at which speed. */
  adapter?: AdapterIdentity;
  /** The speeds at which the port was asked (nothing answered at those before `baudRate`). */
  asked?: number[];
  error?: string;
}

async function listen(
  path: string,
  baudRate: number,
  listenMs: number,
  openPort: OpenPort | undefined,
  send?: string[],
) {
  const lines: string[] = [];
  let opened = false;
  const source = createSerialLineSource(
    { path, baudRate, maxLineBytes: 512, reconnectMinMs: 10_000, reconnectMaxMs: 10_000 },
    {
      onLine: (l) => {
        if (lines.length < 5000) lines.push(l);
      },
      onOpen: async () => {
        opened = true;
        for (const c of send ?? []) await source.write(c);
      },
      ...(openPort ? { openPort } : {}),
    },
  );
  await source.start();
  await new Promise((r) => setTimeout(r, listenMs));
  await source.stop();
  return { lines, opened, errors: source.counters().errors };
}

function asNmea(lines: string[]): ProbeResult["nmea"] | undefined {
  const talkers = new Set<string>();
  const types = new Set<string>();
  let ok = 0;
  let bad = 0;
  const nmea = createNmeaAssembler();
  let fix: GpsFix | null = null;
  // The probe has no receive times per line: each fix is offered at its own GNSS time, so only the fix and
  // date rules (not the jump bound) judge it here.
  const clock = createGnssClock({ notBeforeMs: AGENT_NOT_BEFORE_MS, maxJumpMs: Number.MAX_SAFE_INTEGER });
  const offer = (f: GpsFix) => {
    fix = f;
    clock.offer(f, f.time === null ? 0 : Date.parse(f.time));
  };
  for (const line of lines) {
    const s = parseSentence(line);
    if (s.kind === "ok") {
      ok++;
      talkers.add(s.talker);
      types.add(s.type);
    } else if (s.kind === "badChecksum") bad++;
    for (const f of nmea.feed(line)) offer(f);
  }
  for (const f of nmea.flush()) offer(f);
  if (ok < 2) return undefined;
  return {
    talkers: [...talkers].sort(),
    sentenceTypes: [...types].sort(),
    sentences: ok,
    badChecksum: bad,
    fix,
    gnssTime: clock.counters(),
  };
}

export function asCan(lines: string[], listenMs: number): ProbeResult["can"] | undefined {
  const format = detectCanFormat(lines.slice(0, 64));
  if (!format) return undefined;
  const decoder = createCanDecoder(format);
  let rpm: number | null = null;
  const pgns = new Set<number>();
  const sources = new Map<string, Set<number>>();
  for (const line of lines) {
    const m = decoder.feed(line);
    if (m?.kind === "j1939") {
      pgns.add(m.pgn);
      const sas = sources.get(m.name) ?? new Set<number>();
      sources.set(m.name, sas.add(m.sa));
    }
    const v = m?.signals.engineSpeedRpm;
    if (typeof v === "number") rpm = v;
  }
  const frames = decoder.counters().frames;
  if (frames === 0) return undefined;
  return {
    format,
    frames,
    framesPerSec: Math.round((frames * 1000) / listenMs),
    engineSpeedRpm: rpm,
    pgns: [...pgns].sort(),
    sources: Object.fromEntries([...sources].sort().map(([name, sas]) => [name, [...sas].sort((a, b) => a - b)])),
  };
}

export async function probeSerialPort(path: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const baudRates = options.baudRates ?? [9600, 4800, 38400, 115200];
  const listenMs = options.listenMs ?? 1500;
  let lastLines = 0;
  let opened = false;
  for (const baudRate of baudRates) {
    const heard = await listen(path, baudRate, listenMs, options.openPort);
    opened ||= heard.opened;
    lastLines = heard.lines.length;
    const nmea = asNmea(heard.lines);
    if (nmea) return { path, kind: "nmea", baudRate, lines: heard.lines.length, nmea };
    const can = asCan(heard.lines, listenMs);
    if (can) return { path, kind: "can", baudRate, lines: heard.lines.length, can };
  }
  if (!opened) return { path, kind: "unreadable", baudRate: null, lines: 0, error: "could not open the port" };
  const asked: number[] = [];
  for (const baudRate of options.askBaudRates ?? ADAPTER_BAUD_RATES) {
    asked.push(baudRate);
    const canBitrate = options.canBitrate ?? 250_000;
    const reply = await askAdapter(path, baudRate, {
      replyMs: options.replyMs ?? 1000,
      listenMs,
      canBitrate,
      elmProtocol: options.elmProtocol ?? elmProtocolFor({ bitrate: canBitrate }),
      ...(options.openPort ? { openPort: options.openPort } : {}),
    });
    if (!reply.identity) continue;
    const found = { path, baudRate, lines: reply.lines.length, adapter: reply.identity, asked };
    const can = asCan(reply.lines, listenMs);
    return can ? { ...found, kind: "can", can } : { ...found, kind: "adapter" };
  }
  if (options.trySlcan !== false) {
    const baudRate = baudRates[baudRates.length - 1]!;
    const heard = await listen(
      path,
      baudRate,
      listenMs,
      options.openPort,
      slcanInitCommands(options.canBitrate ?? 250_000),
    );
    const can = asCan(heard.lines, listenMs);
    if (can) return { path, kind: "can", baudRate, lines: heard.lines.length, can, asked };
  }
  return { path, kind: "nothing", baudRate: null, lines: lastLines, asked };
}

/**
 * Serial devices worth probing, found by scanning /dev (serialport's list() needs udevadm, which a minimal Pi image
 * may lack): USB serial and CDC ACM adapters, the Pi's UARTs, and the stable /dev/serial/by-id names.
 */
export async function listSerialCandidates(devDir = "/dev"): Promise<string[]> {
  const out: string[] = [];
  try {
    for (const name of await readdir(`${devDir}/serial/by-id`)) out.push(`${devDir}/serial/by-id/${name}`);
  } catch {}
  for (const name of await readdir(devDir).catch(() => [] as string[])) {
    if (/^(ttyUSB|ttyACM|ttyAMA|ttyS0$|serial\d)/.test(name)) out.push(`${devDir}/${name}`);
  }
  return out.sort();
}

/** In the installer's words: which chip answered, with its firmware. */
export function describeAdapter(a: AdapterIdentity): string {
  if (a.kind === "slcan") return `SLCAN adapter ${a.version}${a.serial ? `, serial ${a.serial}` : ""}`;
  if (a.kind === "stn")
    return `${a.version}${a.description ? ` on ${a.description}` : ""} (${a.elmVersion} compatible)`;
  return `${a.version}${a.description ? ` (${a.description})` : ""}`;
}
