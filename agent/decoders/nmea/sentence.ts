/**
 * One NMEA 0183 line → a checked sentence or the reason it was refused. The checksum is verified here, before any
 * field is parsed (NMEA 0183 v4.10 §5.2.1: XOR of every character between `$` and `*`, two hex digits), so a
 * corrupted sentence never reaches the fix.
 */

export type SentenceResult =
  | { kind: "ok"; talker: string; type: string; fields: string[] }
  /** `$P...`: a manufacturer's own sentence (NMEA 0183 §5.3.3). */
  | { kind: "proprietary"; type: string }
  | { kind: "badChecksum" }
  /** Not an NMEA sentence at all (binary noise, an adapter banner, a half line after a cut). */
  | { kind: "notNmea" };

/**
 * NMEA 0183 caps a sentence at 82 characters, but receivers exceed it with their own sentences (MediaTek's $PMTKCHN
 * is about 140), so this is a sanity bound, not the standard's.
 */
export const NMEA_MAX_SENTENCE = 255;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Checks and splits one line; tolerant of a trailing CR and surrounding whitespace, nothing else. */
export function parseSentence(rawLine: string): SentenceResult {
  let end = rawLine.length;
  while (end > 0 && rawLine.charCodeAt(end - 1) <= 32) end--;
  let start = 0;
  while (start < end && rawLine.charCodeAt(start) <= 32) start++;
  // A line can carry leading garbage before the `$` after a resync; take the last `$`.
  const dollar = rawLine.lastIndexOf("$", end - 1);
  if (dollar < start || end - dollar > NMEA_MAX_SENTENCE || end - dollar < 6) return { kind: "notNmea" };
  // Manufacturer sentences are skipped unread, so their checksum (often absent: MediaTek $POLYN) does not matter.
  if (rawLine.charCodeAt(dollar + 1) === 80 /* P */) {
    const comma = rawLine.indexOf(",", dollar);
    return { kind: "proprietary", type: rawLine.slice(dollar + 1, comma < 0 || comma > end ? end : comma) };
  }
  const star = end - 3;
  // A missing checksum counts as a bad one: without it nothing vouches for the fields.
  if (rawLine.charCodeAt(star) !== 42 /* * */) return { kind: "badChecksum" };
  const hi = hexValue(rawLine.charCodeAt(star + 1));
  const lo = hexValue(rawLine.charCodeAt(star + 2));
  if (hi < 0 || lo < 0) return { kind: "badChecksum" };
  let sum = 0;
  for (let i = dollar + 1; i < star; i++) {
    const c = rawLine.charCodeAt(i);
    if (c < 32 || c > 126) return { kind: "badChecksum" };
    sum ^= c;
  }
  if (sum !== hi * 16 + lo) return { kind: "badChecksum" };
  const body = rawLine.slice(dollar + 1, star);
  const comma = body.indexOf(",");
  const address = comma < 0 ? body : body.slice(0, comma);
  if (address.length < 5) return { kind: "notNmea" };
  const fields = body.split(",");
  fields[0] = `$${address}`;
  return { kind: "ok", talker: address.slice(0, 2), type: address.slice(2), fields };
}
