/**
 * Line → CanMessage, the whole CAN path without I/O: the line format's parser, then J1939 for 29-bit frames and
 * OBD-II for 11-bit replies. The serial CAN source, `fleetsync decode can` and the benchmark all run this.
 */
import type { CanMessage } from "./types.ts";
import { CAN_LINE_PARSERS } from "./can/detect.ts";
import type { CanFormat, CanFrame } from "./can/frame.ts";
import { createJ1939Decoder } from "./j1939/decoder.ts";
import type { TransportOptions } from "./j1939/transport.ts";
import { createObdDecoder } from "./obd2/decoder.ts";

export interface CanLineCounters {
  lines: number;
  frames: number;
  invalid: number;
  adapterErrors: number;
  ignored: number;
  /** Lines of the format that carry nothing to decode (ELM327 header-less data, CAN FD): see skippedByReason. */
  skipped: number;
}

export function createCanDecoder(format: CanFormat, options?: TransportOptions) {
  const parse = CAN_LINE_PARSERS[format]();
  const j1939 = createJ1939Decoder(options);
  const obd = createObdDecoder();
  const lineCounts: CanLineCounters = { lines: 0, frames: 0, invalid: 0, adapterErrors: 0, ignored: 0, skipped: 0 };
  const adapterErrors: Record<string, number> = {};
  const invalidByReason: Record<string, number> = {};
  const skippedByReason: Record<string, number> = {};

  function decodeFrame(frame: CanFrame, now: number | null = null): CanMessage | undefined {
    return frame.extended ? j1939.decode(frame, now) : obd.decode(frame, now);
  }

  return {
    format,
    /** `now` (seconds) is the receive time, used when the format carries no timestamp. */
    feed(line: string, now: number | null = null): CanMessage | undefined {
      lineCounts.lines++;
      const r = parse(line);
      switch (r.kind) {
        case "frame":
          lineCounts.frames++;
          return decodeFrame(r.frame, now);
        case "invalid":
          lineCounts.invalid++;
          invalidByReason[r.reason] = (invalidByReason[r.reason] ?? 0) + 1;
          return undefined;
        case "skipped":
          lineCounts.skipped++;
          skippedByReason[r.reason] = (skippedByReason[r.reason] ?? 0) + 1;
          return undefined;
        case "adapterError":
          lineCounts.adapterErrors++;
          adapterErrors[r.code] = (adapterErrors[r.code] ?? 0) + 1;
          return undefined;
        default:
          lineCounts.ignored++;
          return undefined;
      }
    },
    decodeFrame,
    expire: j1939.expire,
    counters: () => ({
      ...lineCounts,
      adapterErrorsByCode: { ...adapterErrors },
      invalidByReason: { ...invalidByReason },
      skippedByReason: { ...skippedByReason },
      j1939: j1939.counters(),
      obd2: obd.counters(),
    }),
  };
}

export type CanDecoder = ReturnType<typeof createCanDecoder>;
