/**
 * The first byte of every binary payload names its format and version, so a newer bridge keeps decoding older
 * agents: a new layout gets a new byte, and old bytes are never reused. JSON payloads start with `{`, `[` or
 * whitespace, which no format byte uses.
 */
export const FORMAT_TELEMETRY_V1 = 0x01;
export const FORMAT_EVENTS_V1 = 0x02;
/**
 * v2 = v1 plus what several ECUs on one bus need (schema v1.1): each J1939 trouble code carries its source address
 * (bit present + 8 bits after oc), and events code their type in 3 bits with type 4 = source. The agent sends v1
 * whenever a batch has none of these, so a bridge that reads only v1 keeps working for trucks that do not need v2.
 */
export const FORMAT_TELEMETRY_V2 = 0x03;
export const FORMAT_EVENTS_V2 = 0x04;

export type BinaryVersion = 1 | 2;

/** Bytes 0x01-0x1f (except JSON whitespace) are reserved for binary formats; future versions take the next free one. */
export function isReservedFormatByte(byte: number): boolean {
  return byte >= 0x01 && byte <= 0x1f && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d;
}

/**
 * Most records one payload may carry. Binary records whose values did not change cost a few bits, so the byte cap
 * alone would let a tiny payload expand into millions of objects; this caps the work one publish can cause.
 */
export const MAX_RECORDS_PER_PAYLOAD = 1000;
