/**
 * What `decode` and `decode records` share: lines from a capture (cut at a maximum length, as on a serial port), a
 * CAN format chosen from enough of them, and stdout that behaves in a pipe. Its own module so that decode.ts loads
 * decode-records.ts without the two importing each other.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import {
  type CanDecoder,
  type CanFormat,
  type CanMessage,
  createCanDecoder,
  createFormatScores,
} from "../agent/decoders/index.ts";
import { createLineSplitter } from "../agent/sources/index.ts";

/** Lines longer than this in a capture are cut and counted, as on a serial port. */
const MAX_LINE_BYTES = 4096;
/** Detection decides once a format has read this many frames... */
const DETECT_FRAMES = 16;
/** ...or after this many lines (a bound on what is held in memory), or at the end of the input. */
const DETECT_MAX_LINES = 20_000;

/** Set when stdout's reader went away (`| head`): the command stops quietly, as Unix tools do on SIGPIPE. */
let stdoutClosed = false;

export function stdoutGone(): boolean {
  return stdoutClosed;
}

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
export async function quietly(what: string, body: () => Promise<number>): Promise<number> {
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

export function openInput(file: string | undefined): Readable {
  if (file === undefined || file === "-") return process.stdin;
  const stream = createReadStream(file);
  return stream;
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
