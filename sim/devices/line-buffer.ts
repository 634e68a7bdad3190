/**
 * Splits a byte stream into CR-terminated command lines, with a cap: a line longer than maxLength is discarded up to
 * its terminator and reported as overlong (a real adapter's command buffer is small and answers with an error).
 */
export interface LineBuffer {
  /** Returns the complete lines in the chunk; `null` entries mark an overlong line that was discarded. */
  push(chunk: string): (string | null)[];
}

export function createLineBuffer(maxLength: number): LineBuffer {
  let current = "";
  let overflowed = false;
  return {
    push(chunk) {
      const out: (string | null)[] = [];
      for (const ch of chunk) {
        if (ch === "\r") {
          out.push(overflowed ? null : current);
          current = "";
          overflowed = false;
        } else if (ch === "\n") {
          // LF after CR from terminals: not part of any command
        } else if (!overflowed) {
          if (current.length >= maxLength) {
            overflowed = true;
            current = "";
          } else {
            current += ch;
          }
        }
      }
      return out;
    },
  };
}
