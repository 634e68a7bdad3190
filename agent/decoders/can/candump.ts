/**
 * candump text (can-utils), so a Pi with a SocketCAN interface can pipe `candump` into the agent:
 * - log format (`candump -L`): `(1635188455.020850) can1 18F00E00#821639C4FFFFFFFF`, remote frames `123#R`;
 * - screen format (`candump can0`, `-t a|d|z`): `  can0  18FEF100   [8]  00 11 22 33 44 55 66 77`,
 *   optionally preceded by `(1635188455.020850)`; remote frames `remote request`.
 * Some captures put a line number first (`1 (1612543138.000000) vcan0 ...`); it is skipped.
 * Variants users paste: `-t A` absolute dates `(2026-11-30 07:00:00.123456)` (local time, as candump prints it),
 * `-a` with the ASCII column after the data (`'..3DUfw'`), lengths written `[08]`. CAN FD frames (`123##1AABB…` in
 * the log format, a length above 8 in the screen format) carry nothing the agent decodes: counted as skipped.
 */
import { type CanLineResult, hexBytes, hexNumber, IGNORE } from "./frame.ts";

const LOG_RE = /^\s*(?:\d+\s+)?\((\d+(?:\.\d+)?)\)\s+(\S+)\s+([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(R\d?|[0-9A-Fa-f]*)\s*$/;
const LOG_FD_RE = /^\s*(?:\d+\s+)?\(\d+(?:\.\d+)?\)\s+\S+\s+(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})##[0-9A-Fa-f]*\s*$/;
const SCREEN_RE =
  /^\s*(?:\((\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)\)\s+)?(\S+)\s+([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})\s+\[(\d{1,2})\]\s*((?:[0-9A-Fa-f]{2}\s*)*|remote request)\s*(?:'.*')?\s*$/;

/** Seconds since the epoch from `1635188455.020850` or candump -tA's `2026-11-30 07:00:00.123456` (local time). */
function screenTime(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!text.includes("-")) return Number(text);
  const [date, time] = text.split(" ") as [string, string];
  const [hms, frac = ""] = time.split(".");
  const seconds = Date.parse(`${date}T${hms}`) / 1000;
  return Number.isFinite(seconds) ? seconds + Number(`0.${frac || "0"}`) : null;
}

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
  if (LOG_FD_RE.test(line)) return { kind: "skipped", reason: "CAN FD" };
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
    if (dlc > 8 && hex.length === dlc * 2) return { kind: "skipped", reason: "CAN FD" };
    if (dlc > 8 || (!rtr && hex.length !== dlc * 2)) return { kind: "invalid", reason: "length does not match [dlc]" };
    const data = hexBytes(hex, 0, hex.length / 2)!;
    return {
      kind: "frame",
      frame: { ts: screenTime(ts), id, extended: idText.length === 8, rtr, data },
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
