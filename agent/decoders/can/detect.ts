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

const FORMATS = ["candump", "slcan", "elm327"] as const;

/** Frames each format reads from lines added one by one; add() returns the best count so far. */
export function createFormatScores() {
  const parsers = FORMATS.map((f) => CAN_LINE_PARSERS[f]());
  const frames: Record<CanFormat, number> = { candump: 0, slcan: 0, elm327: 0 };
  return {
    add(line: string): number {
      FORMATS.forEach((f, i) => {
        if (parsers[i]!(line).kind === "frame") frames[f]++;
      });
      return Math.max(...Object.values(frames));
    },
    frames: () => ({ ...frames }),
  };
}

export function scoreCanFormats(lines: readonly string[]): Record<CanFormat, number> {
  const scores = createFormatScores();
  for (const line of lines) scores.add(line);
  return scores.frames();
}

export function detectCanFormat(lines: readonly string[]): CanFormat | undefined {
  let best: CanFormat | undefined;
  let bestFrames = 0;
  for (const [format, frames] of Object.entries(scoreCanFormats(lines)) as [CanFormat, number][]) {
    if (frames > bestFrames) {
      best = format;
      bestFrames = frames;
    }
  }
  return best;
}
