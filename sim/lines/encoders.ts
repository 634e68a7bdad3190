/**
 * The text forms a CAN frame takes on the way to the agent: SLCAN (Lawicel) lines, ELM327/STN monitor lines and
 * candump -L log lines. Each returns one line without its terminator, except where the format's terminator is
 * part of the contract (SLCAN frames end in CR).
 */
import type { CanFrame } from "../j1939/frame.ts";

const hex = (value: number, digits: number) => value.toString(16).toUpperCase().padStart(digits, "0");
const bytesHex = (data: Uint8Array, sep = "") => Array.from(data, (b) => hex(b, 2)).join(sep);

/**
 * SLCAN receive line (Lawicel CAN232 manual): `tiiildd..` for 11-bit, `Tiiiiiiiildd..` for 29-bit ids, then an
 * optional 4-hex-digit timestamp in ms (0..59999, wraps each minute) when timestamps are on (`Z1`), then CR.
 */
export function slcanLine(frame: CanFrame, timestampMs?: number): string {
  const id = frame.extended ? `T${hex(frame.id, 8)}` : `t${hex(frame.id, 3)}`;
  const ts = timestampMs === undefined ? "" : hex(Math.floor(timestampMs) % 60_000, 4);
  return `${id}${frame.data.length}${bytesHex(frame.data)}${ts}\r`;
}

export interface ElmFormat {
  /** ATH1: show the CAN id (the agent needs it). */
  headers: boolean;
  /** ATS1: spaces between bytes (the ELM327 default). */
  spaces: boolean;
  /** ATD1: show the data length code after the id. */
  dlc: boolean;
  /**
   * J1939 header formatting in effect (JHF1, the default, and CAF1 on a J1939 protocol): a 29-bit id prints as
   * the priority digit, the 5-digit PGN and the source address (`6 0FECA 00`), not as four bytes.
   */
  j1939Headers?: boolean;
}

/**
 * An ELM327 `AT MA` monitor line: with headers on, a 29-bit id prints as four bytes (priority byte first), or with
 * J1939 header formatting as priority, PGN and SA, and an 11-bit id as three hex digits, then the data bytes
 * (ELM327 data sheet, "Monitoring the bus", "Using J1939").
 */
export function elmMonitorLine(frame: CanFrame, format: ElmFormat): string {
  const sep = format.spaces ? " " : "";
  const parts: string[] = [];
  if (format.headers) {
    if (frame.extended && format.j1939Headers) {
      const id = frame.id;
      parts.push([String((id >>> 26) & 7), hex((id >>> 8) & 0x3ffff, 5), hex(id & 0xff, 2)].join(sep));
    } else if (frame.extended) {
      parts.push([24, 16, 8, 0].map((shift) => hex((frame.id >>> shift) & 0xff, 2)).join(sep));
    } else {
      parts.push(hex(frame.id, 3));
    }
    if (format.dlc) parts.push(String(frame.data.length));
  }
  parts.push(bytesHex(frame.data, sep));
  return parts.join(sep);
}

/** candump -L: `(seconds.micros) iface id#data`, id in 8 hex digits for 29-bit and 3 for 11-bit frames. */
export function candumpLine(frame: CanFrame, epochSeconds: number, iface = "can0"): string {
  const id = frame.extended ? hex(frame.id, 8) : hex(frame.id, 3);
  return `(${epochSeconds.toFixed(6)}) ${iface} ${id}#${bytesHex(frame.data)}`;
}
