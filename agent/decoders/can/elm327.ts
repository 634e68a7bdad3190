/**
 * ELM327 / STN11xx monitor mode (`AT MA`), headers on (`AT H1`), spaces on (`AT S1`), per the ELM327 data sheet:
 *   29-bit: `18 FE F1 00 FF FF 00 00 00 00 00 00`  (four id bytes, then data)
 *   11-bit: `7E8 06 41 0C 1A F8 00 00 00`         (three id digits, then data)
 * With spaces off the id width follows from the length: 8 + 2n digits for 29-bit, 3 + 2n for 11-bit.
 * Everything else the chip prints is status, handled here so a monitor session survives it: `BUFFER FULL` (the
 * chip stops monitoring: the source restarts `AT MA`), `DATA ERROR`, `<DATA ERROR`, `CAN ERROR`, `<RX ERROR`,
 * `?`, `>` prompts, `SEARCHING...`, `STOPPED`, `OK`, banners such as `ELM327 v1.5`, and command echoes.
 */
import { type CanLineResult, hexDigit, IGNORE, toHex } from "./frame.ts";

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
 * Monitor-mode init: reset, echo off, linefeeds off, headers on, spaces on, the protocol, then monitor all.
 * Monitoring only listens (ELM327 data sheet: "the ELM327 does not acknowledge" in monitor mode) as long as
 * `AT CSM1` silent monitoring stays at its default.
 */
export function elmInitCommands(protocol: string): string[] {
  return ["AT Z\r", "AT E0\r", "AT L0\r", "AT H1\r", "AT S1\r", "AT CSM1\r", `AT SP ${protocol}\r`, "AT MA\r"];
}

export function parseElmLine(raw: string): CanLineResult {
  let line = raw.trim();
  while (line.startsWith(">")) line = line.slice(1).trim();
  if (line === "") return IGNORE;
  if (line.startsWith("<")) line = line.slice(1);
  const code = ERRORS[line];
  if (code) return code === "STOPPED" || code === "NO_DATA" ? IGNORE : { kind: "adapterError", code };
  if (/^(ELM|STN|OBDLINK|OK$|SEARCHING|BUS INIT|AT|ERR\d*$)/i.test(line)) {
    return /^ERR/i.test(line) ? { kind: "adapterError", code: line.toUpperCase() } : IGNORE;
  }
  const tokens = line.indexOf(" ") >= 0 ? line.split(/\s+/) : undefined;
  let hex: string;
  let idDigits: number;
  if (tokens) {
    idDigits = tokens[0]!.length === 3 ? 3 : 8;
    hex = tokens.join("");
    if (idDigits === 8 && (tokens[0]!.length !== 2 || tokens.length < 4))
      return { kind: "invalid", reason: "bad header" };
  } else {
    hex = line;
    idDigits = hex.length % 2 === 0 ? 8 : 3;
  }
  if (hex.length < idDigits || (hex.length - idDigits) % 2 !== 0) return { kind: "invalid", reason: "odd hex length" };
  const count = (hex.length - idDigits) / 2;
  if (count > 8) return { kind: "invalid", reason: "more than 8 data bytes" };
  let id = 0;
  for (let i = 0; i < idDigits; i++) {
    const d = hexDigit(hex.charCodeAt(i));
    if (d < 0) return { kind: "invalid", reason: "not hex" };
    id = id * 16 + d;
  }
  const data = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const hi = hexDigit(hex.charCodeAt(idDigits + 2 * i));
    const lo = hexDigit(hex.charCodeAt(idDigits + 2 * i + 1));
    if (hi < 0 || lo < 0) return { kind: "invalid", reason: "not hex" };
    data[i] = hi * 16 + lo;
  }
  const extended = idDigits === 8;
  if (extended && id > 0x1fffffff) return { kind: "invalid", reason: "id above 29 bits" };
  return { kind: "frame", frame: { ts: null, id, extended, rtr: false, data } };
}

/** The monitor line an ELM327 with headers and spaces on prints for a frame (tests and the simulator). */
export function encodeElmLine(frame: { id: number; extended: boolean; data: Uint8Array }): string {
  const parts: string[] = [];
  if (frame.extended) for (let shift = 24; shift >= 0; shift -= 8) parts.push(toHex((frame.id >>> shift) & 0xff, 2));
  else parts.push(toHex(frame.id, 3));
  for (const b of frame.data) parts.push(toHex(b, 2));
  return parts.join(" ");
}
