/**
 * `fleetsync decode nmea [FILE|-]` and `fleetsync decode can [--format slcan|elm327|candump] [FILE|-]`: a capture in,
 * JSON Lines out (stdout), a summary of counts on stderr. The same decoders as the agent's sources, no serial port.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createFormatScores } from "../agent/decoders/can/detect.ts";
import type { CanFormat } from "../agent/decoders/can/frame.ts";
import { type CanDecoder, createCanDecoder } from "../agent/decoders/can-decoder.ts";
import { createNmeaAssembler } from "../agent/decoders/nmea/index.ts";
import { createLineSplitter } from "../agent/sources/serial/line-splitter.ts";
import type { CanMessage, GpsFix } from "../agent/sources/types.ts";
import { FleetError } from "../common/errors.ts";
import { parseCommandArgs } from "./commands.ts";

const USAGE = `Usage:
  fleetsync decode nmea [FILE|-]
  fleetsync decode can [--format slcan|elm327|candump] [FILE|-]
  fleetsync decode records [--can FILE] [--gps FILE] [--format F] [--config FILE]   (see decode records --help)

Reads a capture (a file, or stdin for - or no FILE) and prints one JSON line per GPS fix epoch or decoded CAN
message; a summary of counts by reason goes to stderr. When --format is not given, the CAN format is detected from
as much of the input as it takes (stderr says which and why). Exit code 1 when a non-empty input gave nothing.
`;

/** Lines longer than this in a capture are cut and counted, as on a serial port. */
const MAX_LINE_BYTES = 4096;
/** Detection decides once a format has read this many frames... */
const DETECT_FRAMES = 16;
/** ...or after this many lines (a bound on what is held in memory), or at the end of the input. */
const DETECT_MAX_LINES = 20_000;

/** Set when stdout's reader went away (`| head`): the command stops quietly, as Unix tools do on SIGPIPE. */
let stdoutClosed = false;

/** Feeds every line of `input` to `onLine`; resolves with the number of over-long lines. */
export async function eachLine(input: Readable, onLine: (line: string) => void): Promise<number> {
  let tooLong = 0;
  const splitter = createLineSplitter({ maxLineBytes: MAX_LINE_BYTES, onLine, onTooLong: () => tooLong++ });
  for await (const chunk of input) {
    if (stdoutClosed) break;
    splitter.push(chunk as Buffer);
  }
  if (!stdoutClosed) splitter.push(Buffer.from("\n")); // the last line may lack its newline; a cut read is dropped
  return tooLong;
}

/**
 * Runs a decode command the way Unix tools behave in a pipe: `decode … | head -1` makes the next write fail with
 * EPIPE once the reader left; then the input stops (eachLine checks stdoutClosed) and the exit is 0, quietly. An
 * unreadable file is one clear line and exit 1.
 */
async function quietly(what: string, body: () => Promise<number>): Promise<number> {
  stdoutClosed = false;
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    stdoutClosed = true;
  };
  process.stdout.on("error", onStdoutError);
  try {
    return await body();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
      process.stderr.write(`fleetsync ${what}: cannot read ${(error as { path?: string }).path}: ${code}\n`);
      return 1;
    }
    if (stdoutClosed) return 0;
    throw error;
  } finally {
    process.stdout.off("error", onStdoutError);
  }
}

async function runRecordsCommand(argv: string[]): Promise<number> {
  const { RECORDS_USAGE, runRecords } = await import("./decode-records.ts");
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(RECORDS_USAGE);
    return 0;
  }
  return quietly("decode records", () => runRecords(argv));
}

export function openInput(file: string | undefined): Readable {
  if (file === undefined || file === "-") return process.stdin;
  const stream = createReadStream(file);
  return stream;
}

const round = (v: number | null, decimals: number) => (v === null ? null : Number(v.toFixed(decimals)));

function fixLine(f: GpsFix): string {
  return JSON.stringify({
    time: f.time,
    fix: f.fix,
    lat: round(f.lat, 9),
    lon: round(f.lon, 9),
    altM: round(f.altM, 3),
    speedKmh: round(f.speedKmh, 3),
    courseDeg: round(f.courseDeg, 2),
    sats: f.sats,
    hdop: f.hdop,
  });
}

function signalsJson(signals: CanMessage["signals"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(signals)) out[k] = typeof v === "number" ? Number(v.toFixed(6)) : v;
  return out;
}

function messageLine(m: CanMessage): string {
  const hexId = m.id
    .toString(16)
    .toUpperCase()
    .padStart(m.kind === "j1939" ? 8 : 3, "0");
  if (m.kind === "j1939") {
    return JSON.stringify({ ts: m.ts, id: hexId, pgn: m.pgn, sa: m.sa, name: m.name, signals: signalsJson(m.signals) });
  }
  return JSON.stringify({ ts: m.ts, id: hexId, mode: m.mode, pid: m.pid, signals: signalsJson(m.signals) });
}

/** stdout with backpressure: waits for drain when the pipe is full (e.g. `| head`). */
export function createWriter() {
  let buffered: string[] = [];
  let size = 0;
  return {
    line(text: string) {
      buffered.push(text);
      size += text.length + 1;
      if (size > 64 * 1024) this.flushSync();
    },
    flushSync() {
      if (buffered.length === 0 || stdoutClosed) return;
      process.stdout.write(`${buffered.join("\n")}\n`);
      buffered = [];
      size = 0;
    },
    async end() {
      this.flushSync();
      if (process.stdout.writableNeedDrain && !stdoutClosed) {
        await new Promise((r) => {
          process.stdout.once("drain", r);
          process.stdout.once("close", r);
        });
      }
    },
  };
}

async function decodeNmea(input: Readable): Promise<number> {
  const nmea = createNmeaAssembler();
  const out = createWriter();
  const tooLong = await eachLine(input, (line) => {
    for (const fix of nmea.feed(line)) out.line(fixLine(fix));
  });
  for (const fix of nmea.flush()) out.line(fixLine(fix));
  await out.end();
  const { pending: _pending, ...c } = nmea.counters();
  process.stderr.write(`${JSON.stringify({ summary: "nmea", ...c, tooLong })}\n`);
  const lines = c.sentences + c.badChecksum + c.proprietary + c.unknown + c.invalid + c.notNmea;
  if (lines > 0 && c.fixes === 0 && !stdoutClosed) {
    process.stderr.write("fleetsync decode: no GPS fix in this input (see the counts above)\n");
    return 1;
  }
  return 0;
}

/** Chooses the CAN format from the lines held so far; says which and why. */
function chooseFormat(frames: Record<CanFormat, number>, held: number): { format: CanFormat | undefined; why: string } {
  const ranked = (Object.entries(frames) as [CanFormat, number][]).sort((a, b) => b[1] - a[1]);
  const [best, count] = ranked[0]!;
  const others = ranked
    .slice(1)
    .map(([f, n]) => `${f} ${n}`)
    .join(", ");
  if (count === 0) return { format: undefined, why: `no line of the first ${held} reads as a frame in any format` };
  return { format: best, why: `detected: ${count} frames in the first ${held} lines; ${others}` };
}

/**
 * Lines → a CAN decoder, the format given or detected from enough of the input: lines are held until one format has
 * read DETECT_FRAMES frames (an ELM327 log may open with a long command session), DETECT_MAX_LINES were held, or the
 * input ended. `onMessage` gets every decoded message; the result says which format and why.
 */
export function createCanLineFeed(format: CanFormat | undefined, onMessage: (m: CanMessage) => void) {
  let decoder: CanDecoder | undefined = format ? createCanDecoder(format) : undefined;
  let why = format ? "--format" : "";
  const head: string[] = [];
  const scores = createFormatScores();
  const feed = (line: string) => {
    const m = decoder!.feed(line);
    if (m) onMessage(m);
  };
  const decide = () => {
    const chosen = chooseFormat(scores.frames(), head.length);
    why = chosen.why;
    if (!chosen.format) return;
    decoder = createCanDecoder(chosen.format);
    for (const l of head.splice(0)) feed(l);
  };
  return {
    line(line: string) {
      if (decoder) return feed(line);
      if (head.length >= DETECT_MAX_LINES) return; // undecidable so far: held lines stay the sample
      head.push(line);
      if (scores.add(line) >= DETECT_FRAMES || head.length >= DETECT_MAX_LINES) decide();
    },
    end(): { decoder: CanDecoder | undefined; why: string; lines: number } {
      if (!decoder) decide();
      return { decoder, why, lines: head.length };
    },
  };
}

async function decodeCan(input: Readable, format: CanFormat | undefined): Promise<number> {
  const out = createWriter();
  const lines = createCanLineFeed(format, (m) => out.line(messageLine(m)));
  const tooLong = await eachLine(input, (line) => lines.line(line));
  const { decoder, why, lines: held } = lines.end();
  await out.end();
  if (!decoder) {
    process.stderr.write(`fleetsync decode: no CAN frame in any format (candump, slcan, elm327): ${why}\n`);
    return held > 0 ? 1 : 0;
  }
  process.stderr.write(`fleetsync decode: format ${decoder.format} (${why})\n`);
  const counters = decoder.counters();
  process.stderr.write(`${JSON.stringify({ summary: "can", format: decoder.format, ...counters, tooLong })}\n`);
  const nonEmpty = counters.lines - counters.ignored > 0;
  if (nonEmpty && counters.frames === 0 && !stdoutClosed) {
    process.stderr.write(`fleetsync decode: no CAN frame in ${counters.lines} lines read as ${decoder.format}\n`);
    return 1;
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "records") return runRecordsCommand(argv.slice(1));
  const { values, positionals } = parseCommandArgs(argv, {
    options: { format: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [kind, file, ...extra] = positionals;
  if (extra.length > 0) throw new FleetError("FLEET_USAGE", `unexpected argument '${extra[0]}'\n${USAGE}`);
  if (kind !== "nmea" && kind !== "can") throw new FleetError("FLEET_USAGE", `expected 'nmea' or 'can'\n${USAGE}`);
  const format = values.format;
  if (format !== undefined && (kind !== "can" || !["slcan", "elm327", "candump"].includes(format))) {
    throw new FleetError("FLEET_USAGE", `--format must be slcan, elm327 or candump (decode can only)\n${USAGE}`);
  }
  return quietly("decode", () => {
    const input = openInput(file);
    return kind === "nmea" ? decodeNmea(input) : decodeCan(input, format as CanFormat | undefined);
  });
}
