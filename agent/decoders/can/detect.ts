/**
 * Which line format a capture or an adapter speaks, from its first lines: each format's parser tries every line and
 * the one that reads the most frames wins (the formats do not overlap: candump lines carry `#` or `[n]`, SLCAN lines
 * start with t/T/r/R and have no spaces, ELM327 lines are bare hex). No frame at all: undefined.
 */
import { parseCandumpLine } from "./candump.ts";
import { createElmParser } from "./elm327.ts";
import type { CanFormat, CanLineResult } from "./frame.ts";
import { parseSlcanLine } from "./slcan.ts";

/** A parser per session: ELM327 lines need a little memory (elm327.ts), the others are stateless. */
export const CAN_LINE_PARSERS: Readonly<Record<CanFormat, () => (line: string) => CanLineResult>> = {
  candump: () => parseCandumpLine,
  slcan: () => parseSlcanLine,
  elm327: createElmParser,
};

export function detectCanFormat(lines: readonly string[]): CanFormat | undefined {
  let best: CanFormat | undefined;
  let bestFrames = 0;
  for (const format of ["candump", "slcan", "elm327"] as const) {
    let frames = 0;
    const parse = CAN_LINE_PARSERS[format]();
    for (const line of lines) if (parse(line).kind === "frame") frames++;
    if (frames > bestFrames) {
      best = format;
      bestFrames = frames;
    }
  }
  return best;
}
