/**
 * A bounded line splitter for serial bytes. @serialport/parser-readline (a DelimiterParser) keeps everything up to
 * the next delimiter in one growing Buffer, so a device that never sends one grows it without bound (design promise
 * 4); this one keeps at most `maxLineBytes`. When-full policy: the line is cut, counted as `tooLong`, and the bytes
 * up to the next delimiter are discarded (a cut sentence or frame cannot be decoded anyway).
 * Delimiters: CR and LF (NMEA ends lines with CRLF, SLCAN and ELM327 with CR alone); empty lines are not emitted.
 * With `prompt` set (ELM327), that byte also ends a line and is emitted as a line of its own, so callers can wait for
 * the chip's `>` prompt, which has no line end.
 */

export interface LineSplitterOptions {
  maxLineBytes: number;
  /** An extra byte that ends a line and is reported as a line by itself (ELM327 `>`). */
  prompt?: number;
  onLine(line: string): void;
  onTooLong?(): void;
}

export interface LineSplitter {
  push(chunk: Uint8Array): void;
  /** Drops a partial line (the device went away mid-line). Returns how many bytes were dropped. */
  reset(): number;
}

const CR = 13;
const LF = 10;

export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const buffer = Buffer.alloc(options.maxLineBytes);
  let length = 0;
  let discarding = false;
  const prompt = options.prompt ?? -1;

  function endLine(): void {
    if (discarding) discarding = false;
    else if (length > 0) options.onLine(buffer.toString("latin1", 0, length));
    length = 0;
  }

  return {
    push(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (byte === LF || byte === CR) {
          endLine();
          continue;
        }
        if (byte === prompt) {
          endLine();
          options.onLine(String.fromCharCode(prompt));
          continue;
        }
        if (discarding) continue;
        if (length === buffer.length) {
          length = 0;
          discarding = true;
          options.onTooLong?.();
          continue;
        }
        buffer[length++] = byte;
      }
    },
    reset() {
      const dropped = length;
      length = 0;
      discarding = false;
      return dropped;
    },
  };
}
