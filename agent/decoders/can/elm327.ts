/**
 * ELM327 / STN11xx monitor mode (`AT MA`), per the ELM327 data sheet (v1.4b-2.x) and the STN11xx/OBDLink reference,
 * which prints the same formats:
 *   29-bit, JHF0 or CAF0 (what our init selects): `18 FE F1 00 FF FF 00 00 00 00 00 00` (four id bytes, then data)
 *   29-bit, JHF1 (the chip's default with J1939 protocols): `6 0FEF1 00 FF FF 00 …` (priority, PGN, SA)
 *   11-bit: `7E8 06 41 0C 1A F8 00 00 00` (three id digits, then data)
 *   AT D1 adds a DLC digit after the header; AT H0 (the chip's default!) prints data bytes only: no id, so nothing
 *   to decode; such lines are counted as header-less.
 * With spaces off the id width follows from the length: 8 + 2n digits for 29-bit (JHF0 and JHF1), 3 + 2n for 11-bit.
 * Everything else the chip prints is status, handled here so a monitor session survives it: `BUFFER FULL` (the
 * chip stops monitoring: the source restarts `AT MA`), `DATA ERROR`, `<DATA ERROR`, `CAN ERROR`, `<RX ERROR`,
 * `?`, `>` prompts, `SEARCHING...`, `STOPPED`, `OK`, banners such as `ELM327 v1.5`, and command echoes.
 */
import { type CanLineResult, hexDigit, hexNumber, IGNORE, toHex } from "./frame.ts";

const ERRORS: Readonly<Record<string, string>> = {
  "BUFFER FULL": "BUFFER_FULL",
  "DATA ERROR": "DATA_ERROR",
  "CAN ERROR": "CAN_ERROR",
  "RX ERROR": "RX_ERROR",
  "BUS ERROR": "BUS_ERROR",
  "BUS BUSY": "BUS_BUSY",
  "FB ERROR": "FB_ERROR",
  "LV RESET": "LV_RESET",
  "NO DATA": "NO_DATA",
  "UNABLE TO CONNECT": "UNABLE_TO_CONNECT",
  STOPPED: "STOPPED",
  "?": "UNKNOWN_COMMAND",
};

/** ELM327 protocol numbers for `AT SP`: J1939 is A (29-bit, 250 kbit/s); ISO 15765-4 11-bit at 500 kbit/s is 6. */
export const ELM_PROTOCOLS = { j1939: "A", "iso15765-11bit-500k": "6", "iso15765-29bit-500k": "7" } as const;

/**
 * Monitor-mode init. Everything that decides what a line looks like is pinned, because clones and firmware versions
 * differ in defaults and some keep settings across `AT Z`: reset, echo off, linefeeds off, spaces on, headers on
 * (the default is off, and then no line says which ECU sent it), DLC display off, CAN auto formatting off (CAF1
 * marks frames that are not ISO 15765 with `<DATA ERROR` and hides their length), the protocol, J1939 header
 * formatting off (the default JHF1 prints `6 0FECA 00 …`; JHF0 prints the id as four bytes; CAF0 already implies
 * it, but a chip that ignores one of the two still obeys the other), then monitor all. Monitoring only listens
 * (data sheet: "the ELM327 does not acknowledge" in monitor mode) as long as `AT CSM1` silent monitoring stays on.
 * A clone that does not know a command answers `?`, which the source logs and passes over; the parser reads
 * every format these settings select, so a chip that ignores them still yields frames.
 */
export function elmInitCommands(protocol: string): string[] {
  return [
    "AT Z\r",
    "AT E0\r",
    "AT L0\r",
    "AT S1\r",
    "AT H1\r",
    "AT D0\r",
    "AT CAF0\r",
    "AT CSM1\r",
    `AT SP ${protocol}\r`,
    "AT JHF0\r",
    "AT MA\r",
  ];
}

const ERROR_SUFFIX = /^(.*?)\s*<(DATA ERROR|RX ERROR)$/;
const STATUS = /^(ELM|STN|OBDLINK|OK$|SEARCHING|BUS INIT|AT|ERR\d*$)/i;

/**
 * A monitor-mode line parser. It keeps one piece of memory per session: whether lines carry a header. With spaces
 * on, `12 34 56 78 9A` could be a JHF0 id plus one byte or five header-less data bytes (AT H0); a session shows which
 * as soon as one line can only be one of them (more than 8 bytes, a DLC digit, or a first byte above 0x1F, which no
 * 29-bit id has). Until then such a line is counted as header-less: a frame is never made up from data bytes.
 */
export function createElmParser(): (raw: string) => CanLineResult {
  let headers: boolean | undefined;

  function frame(id: number, extended: boolean, dataTokens: string[]): CanLineResult {
    let tokens = dataTokens;
    if (tokens[0]?.length === 1) {
      // AT D1: the DLC digit, then that many bytes.
      const dlc = hexDigit(tokens[0].charCodeAt(0));
      tokens = tokens.slice(1);
      if (dlc !== tokens.length) return { kind: "invalid", reason: "length does not match the DLC" };
    }
    if (tokens.length > 8) return { kind: "invalid", reason: "more than 8 data bytes" };
    const data = new Uint8Array(tokens.length);
    for (const [i, t] of tokens.entries()) {
      const v = t.length === 2 ? hexNumber(t, 0, 2) : -1;
      if (v < 0) return { kind: "invalid", reason: "not hex" };
      data[i] = v;
    }
    if (extended && id > 0x1fffffff) return { kind: "invalid", reason: "id above 29 bits" };
    return { kind: "frame", frame: { ts: null, id, extended, rtr: false, data } };
  }

  function spaced(tokens: string[]): CanLineResult {
    const [t0, t1, t2] = tokens as [string, string | undefined, string | undefined];
    // JHF1 (the chip's default for J1939): priority digit, 5-digit PGN (data page bits + PF + PS), SA.
    if (t0.length === 1 && t1?.length === 5 && t2?.length === 2) {
      headers = true;
      const priority = hexNumber(t0, 0, 1);
      const pgn = hexNumber(t1, 0, 5);
      const sa = hexNumber(t2, 0, 2);
      if (priority < 0 || priority > 7 || pgn < 0 || pgn > 0x3ffff || sa < 0)
        return { kind: "invalid", reason: "bad header" };
      return frame(((priority << 26) | (pgn << 8) | sa) >>> 0, true, tokens.slice(3));
    }
    if (t0.length === 3) {
      const id = hexNumber(t0, 0, 3);
      return id < 0 ? { kind: "invalid", reason: "not hex" } : frame(id, false, tokens.slice(1));
    }
    if (t0.length !== 2 || tokens.some((t) => hexNumber(t, 0, t.length) < 0)) {
      return { kind: "invalid", reason: "bad header" };
    }
    const first = hexNumber(t0, 0, 2);
    const dlcDigit = tokens[4]?.length === 1;
    if (dlcDigit || tokens.length > 8) headers = true;
    else if (first > 0x1f) headers = false;
    const withHeader = dlcDigit || tokens.length > 8 || (headers === true && first <= 0x1f && tokens.length >= 4);
    if (!withHeader) return { kind: "skipped", reason: "header-less" };
    if (tokens.slice(0, 4).some((t) => t.length !== 2)) return { kind: "invalid", reason: "bad header" };
    return frame(hexNumber(tokens.slice(0, 4).join(""), 0, 8), true, tokens.slice(4));
  }

  function compact(hex: string): CanLineResult {
    if (!/^[0-9A-Fa-f]+$/.test(hex)) return { kind: "invalid", reason: "not hex" };
    if (hex.length % 2 === 1) return frame(hexNumber(hex, 0, 3), false, pairs(hex.slice(3)));
    // Even: an 8-digit header (JHF0 id, or JHF1 p + PGN + SA), or header-less data (at most 16 digits).
    const d0 = hexDigit(hex.charCodeAt(0));
    if (hex.length > 16) headers = true;
    else if (d0 >= 8) headers = false;
    if (!(hex.length > 16 || (headers === true && hex.length >= 8))) return { kind: "skipped", reason: "header-less" };
    // A 29-bit id starts with 0 or 1; JHF1 starts with the priority digit. For priorities 0 and 1 both readings
    // give the same PGN and SA (only priority 1 reads as 4-5), which is all the decoder uses.
    if (d0 >= 2) {
      const id = ((d0 << 26) | (hexNumber(hex, 1, 5) << 8) | hexNumber(hex, 6, 2)) >>> 0;
      if (d0 > 7 || hexDigit(hex.charCodeAt(1)) > 3) return { kind: "invalid", reason: "bad header" };
      return frame(id, true, pairs(hex.slice(8)));
    }
    return frame(hexNumber(hex, 0, 8), true, pairs(hex.slice(8)));
  }

  return (raw) => {
    let line = raw.trim();
    while (line.startsWith(">")) line = line.slice(1).trim();
    if (line === "") return IGNORE;
    // `<DATA ERROR` (a frame CAF1 could not format) and `<RX ERROR` (a frame received with an error, shown as
    // received): the frame before the marker is not trustworthy; counted under the marker's own code.
    const marked = ERROR_SUFFIX.exec(line);
    if (marked) return { kind: "adapterError", code: marked[2] === "DATA ERROR" ? "DATA_ERROR" : "RX_ERROR" };
    if (line.startsWith("<")) line = line.slice(1);
    const code = ERRORS[line];
    if (code) return code === "STOPPED" || code === "NO_DATA" ? IGNORE : { kind: "adapterError", code };
    if (STATUS.test(line)) return /^ERR/i.test(line) ? { kind: "adapterError", code: line.toUpperCase() } : IGNORE;
    return line.includes(" ") ? spaced(line.split(/\s+/)) : compact(line);
  };
}

function pairs(hex: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < hex.length; i += 2) out.push(hex.slice(i, i + 2));
  return out;
}

/** One line on its own (no session memory): ambiguous data-only lines count as header-less. */
export function parseElmLine(raw: string): CanLineResult {
  return createElmParser()(raw);
}

/**
 * The monitor line an ELM327 with headers and spaces on prints for a frame: the id as four bytes (JHF0, what the
 * agent's init selects), or with `j1939Headers` the chip's default J1939 formatting (JHF1: priority, PGN, SA).
 */
export function encodeElmLine(
  frame: { id: number; extended: boolean; data: Uint8Array },
  options: { j1939Headers?: boolean } = {},
): string {
  const parts: string[] = [];
  if (frame.extended && options.j1939Headers) {
    parts.push(String((frame.id >>> 26) & 7), toHex((frame.id >>> 8) & 0x3ffff, 5), toHex(frame.id & 0xff, 2));
  } else if (frame.extended) {
    for (let shift = 24; shift >= 0; shift -= 8) parts.push(toHex((frame.id >>> shift) & 0xff, 2));
  } else parts.push(toHex(frame.id, 3));
  for (const b of frame.data) parts.push(toHex(b, 2));
  return parts.join(" ");
}
