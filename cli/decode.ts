/**
 * `fleetsync decode nmea [FILE|-]` and `fleetsync decode can [--format slcan|elm327|candump] [FILE|-]`: a capture in,
 * JSON Lines out (stdout), a summary of counts on stderr. The same decoders as the agent's sources, no serial port.
 */
import type { Readable } from "node:stream";
import { type CanFormat, type CanMessage, createNmeaAssembler, type GpsFix } from "../agent/decoders/index.ts";
import { FleetError } from "../common/errors.ts";
import { parseCommandArgs } from "./commands.ts";
import { createCanLineFeed, createWriter, eachLine, openInput, quietly, stdoutGone } from "./decode-io.ts";

const USAGE = `Usage:
  fleetsync decode nmea [FILE|-]
  fleetsync decode can [--format slcan|elm327|candump] [FILE|-]
  fleetsync decode records [--can FILE] [--gps FILE] [--format F] [--config FILE]   (see decode records --help)

Reads a capture (a file, or stdin for - or no FILE) and prints one JSON line per GPS fix epoch or decoded CAN
message; a summary of counts by reason goes to stderr. When --format is not given, the CAN format is detected from
as much of the input as it takes (stderr says which and why). Exit code 1 when a non-empty input gave nothing.
`;

async function runRecordsCommand(argv: string[]): Promise<number> {
  const { RECORDS_USAGE, runRecords } = await import("./decode-records.ts");
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(RECORDS_USAGE);
    return 0;
  }
  return quietly("decode records", () => runRecords(argv));
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
  if (lines > 0 && c.fixes === 0 && !stdoutGone()) {
    process.stderr.write("fleetsync decode: no GPS fix in this input (see the counts above)\n");
    return 1;
  }
  return 0;
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
  if (nonEmpty && counters.frames === 0 && !stdoutGone()) {
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
