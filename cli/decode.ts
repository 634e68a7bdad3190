/**
 * `fleetsync decode nmea [FILE|-]` and `fleetsync decode can [--format slcan|elm327|candump] [FILE|-]`: a capture in,
 * JSON Lines out (stdout), a summary of counts on stderr. The same decoders as the agent's sources, no serial port.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { detectCanFormat } from "../agent/decoders/can/detect.ts";
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

Reads a capture (a file, or stdin for - or no FILE) and prints one JSON line per GPS fix epoch or decoded CAN
message; a summary of counts goes to stderr. The CAN format is detected from the first lines when not given.
`;

/** Lines longer than this in a capture are cut and counted, as on a serial port. */
const MAX_LINE_BYTES = 4096;
const DETECT_LINES = 64;

/** Feeds every line of `input` to `onLine`; resolves with the number of over-long lines. */
async function eachLine(input: Readable, onLine: (line: string) => void): Promise<number> {
  let tooLong = 0;
  const splitter = createLineSplitter({ maxLineBytes: MAX_LINE_BYTES, onLine, onTooLong: () => tooLong++ });
  for await (const chunk of input) splitter.push(chunk as Buffer);
  splitter.push(Buffer.from("\n"));
  return tooLong;
}

function openInput(file: string | undefined): Readable {
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
function createWriter() {
  let buffered: string[] = [];
  let size = 0;
  return {
    line(text: string) {
      buffered.push(text);
      size += text.length + 1;
      if (size > 64 * 1024) this.flushSync();
    },
    flushSync() {
      if (buffered.length === 0) return;
      process.stdout.write(`${buffered.join("\n")}\n`);
      buffered = [];
      size = 0;
    },
    async end() {
      this.flushSync();
      if (process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once("drain", r));
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
  return 0;
}

async function decodeCan(input: Readable, format: CanFormat | undefined): Promise<number> {
  const out = createWriter();
  let decoder: CanDecoder | undefined = format ? createCanDecoder(format) : undefined;
  const head: string[] = [];
  const feed = (line: string) => {
    const m = decoder!.feed(line);
    if (m) out.line(messageLine(m));
  };
  const tooLong = await eachLine(input, (line) => {
    if (decoder) return feed(line);
    head.push(line);
    if (head.length < DETECT_LINES) return;
    decoder = createCanDecoder(detectCanFormat(head) ?? "candump");
    for (const l of head.splice(0)) feed(l);
  });
  if (!decoder) {
    const detected = detectCanFormat(head);
    if (!detected) {
      process.stderr.write("fleetsync decode: no CAN frame found in any format (candump, slcan, elm327)\n");
      return 1;
    }
    decoder = createCanDecoder(detected);
    for (const l of head.splice(0)) feed(l);
  }
  await out.end();
  process.stderr.write(
    `${JSON.stringify({ summary: "can", format: decoder.format, ...decoder.counters(), tooLong })}\n`,
  );
  return 0;
}

export async function run(argv: string[]): Promise<number> {
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
  const input = openInput(file);
  try {
    return kind === "nmea" ? await decodeNmea(input) : await decodeCan(input, format as CanFormat | undefined);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
      process.stderr.write(`fleetsync decode: cannot read ${file}: ${code}\n`);
      return 1;
    }
    throw error;
  }
}
