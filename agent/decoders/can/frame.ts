/** A CAN frame as every line format yields it; the decoders downstream never see the line format. */
export interface CanFrame {
  /** Seconds since the epoch from the line (candump, SLCAN timestamps are only ms within a minute: see slcan.ts); null if none. */
  ts: number | null;
  id: number;
  /** 29-bit identifier (CAN 2.0B). */
  extended: boolean;
  /** Remote transmission request: no data, never decoded. */
  rtr: boolean;
  data: Uint8Array;
}

export type CanFormat = "slcan" | "elm327" | "candump";

export type CanLineResult =
  | { kind: "frame"; frame: CanFrame }
  /** Nothing to decode: a blank line, an OK, a prompt, an echo, a banner, SEARCHING... */
  | { kind: "ignore" }
  /** The adapter reported a problem (BUFFER FULL, CAN ERROR, DATA ERROR, ?, SLCAN BELL): counted by code. */
  | { kind: "adapterError"; code: string }
  /** The line is not a frame of this format. */
  | { kind: "invalid"; reason: string }
  /** A line of this format that carries nothing the agent can decode: no id (ELM327 AT H0), a CAN FD frame. */
  | { kind: "skipped"; reason: string };

export const IGNORE: CanLineResult = Object.freeze({ kind: "ignore" }) as CanLineResult;

/** Hex digit value or -1. */
export function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Parses `length` hex digits at `start`; -1 when any is not hex. */
export function hexNumber(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const d = hexDigit(text.charCodeAt(i));
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

/** Parses `count` bytes of contiguous hex at `start`; undefined when any digit is bad. */
export function hexBytes(text: string, start: number, count: number): Uint8Array | undefined {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const hi = hexDigit(text.charCodeAt(start + 2 * i));
    const lo = hexDigit(text.charCodeAt(start + 2 * i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[i] = hi * 16 + lo;
  }
  return out;
}

export function toHex(value: number, digits: number): string {
  return value.toString(16).toUpperCase().padStart(digits, "0");
}

export function bytesToHex(data: Uint8Array, separator = ""): string {
  let out = "";
  for (let i = 0; i < data.length; i++) out += (i > 0 ? separator : "") + toHex(data[i]!, 2);
  return out;
}
