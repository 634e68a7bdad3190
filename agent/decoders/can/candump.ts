/**
 * candump text (can-utils), so a Pi with a SocketCAN interface can pipe `candump` into the agent:
 * - log format (`candump -L`): `(1635188455.020850) can1 18F00E00#821639C4FFFFFFFF`, remote frames `123#R`;
 * - screen format (`candump can0`, `-t a|d|z`): `  can0  18FEF100   [8]  00 11 22 33 44 55 66 77`,
 *   optionally preceded by `(1635188455.020850)`; remote frames `remote request`.
 * Some captures put a line number first (`1 (1612543138.000000) vcan0 ...`); it is skipped.
 */
import { type CanLineResult, hexBytes, hexNumber, IGNORE } from "./frame.ts";

const LOG_RE = /^\s*(?:\d+\s+)?\((\d+(?:\.\d+)?)\)\s+(\S+)\s+([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(R\d?|[0-9A-Fa-f]*)\s*$/;
const SCREEN_RE =
  /^\s*(?:\((\d+(?:\.\d+)?)\)\s+)?(\S+)\s+([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})\s+\[(\d)\]\s*((?:[0-9A-Fa-f]{2}\s*)*|remote request)\s*$/;

export function parseCandumpLine(line: string): CanLineResult {
  if (line.trim() === "") return IGNORE;
  const log = LOG_RE.exec(line);
  if (log) {
    const [, ts, , idText, dataText] = log as unknown as [string, string, string, string, string];
    const id = hexNumber(idText, 0, idText.length);
    const rtr = dataText.startsWith("R");
    if (!rtr && dataText.length % 2 !== 0) return { kind: "invalid", reason: "odd number of hex digits" };
    if (dataText.length > 16) return { kind: "invalid", reason: "more than 8 data bytes" };
    const data = rtr ? new Uint8Array(0) : hexBytes(dataText, 0, dataText.length / 2)!;
    return { kind: "frame", frame: { ts: Number(ts), id, extended: idText.length === 8, rtr, data } };
  }
  const screen = SCREEN_RE.exec(line);
  if (screen) {
    const [, ts, , idText, dlcText, dataText] = screen as unknown as [
      string,
      string | undefined,
      string,
      string,
      string,
      string,
    ];
    const id = hexNumber(idText, 0, idText.length);
    const rtr = dataText === "remote request";
    const hex = rtr ? "" : dataText.replace(/\s+/g, "");
    const dlc = Number(dlcText);
    if (dlc > 8 || (!rtr && hex.length !== dlc * 2)) return { kind: "invalid", reason: "length does not match [dlc]" };
    const data = hexBytes(hex, 0, hex.length / 2)!;
    return {
      kind: "frame",
      frame: { ts: ts === undefined ? null : Number(ts), id, extended: idText.length === 8, rtr, data },
    };
  }
  return { kind: "invalid", reason: "not a candump line" };
}

/** The `candump -L` line for a frame (used by tests and the simulator to write captures). */
export function encodeCandumpLine(
  frame: { ts: number | null; id: number; extended: boolean; data: Uint8Array },
  channel = "can0",
): string {
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, "0");
  const data = Buffer.from(frame.data).toString("hex").toUpperCase();
  return `(${(frame.ts ?? 0).toFixed(6)}) ${channel} ${id}#${data}`;
}
