/**
 * SLCAN / Lawicel ASCII protocol (CAN232/CANUSB manual; Linux slcan.c). Frames the adapter sends us:
 *   `tiiiL<data>[tttt]`       standard 11-bit data frame
 *   `TiiiiiiiiL<data>[tttt]`  extended 29-bit data frame
 *   `riiiL[tttt]`, `RiiiiiiiiL[tttt]`  remote frames
 * `tttt` is the optional timestamp (enabled with `Z1`): milliseconds 0..59999 within the minute, so it cannot give an
 * absolute time and is not used as one. Command replies: CR = OK, BELL (0x07) = error, `z`/`Z` = transmit acks
 * (never expected: we do not transmit), `V`/`v`/`N` = version and serial number, `F` = status flags.
 */
import { type CanLineResult, hexBytes, hexNumber, IGNORE, toHex } from "./frame.ts";
import { FleetError } from "../../../common/errors.ts";

/** Lawicel `S0`..`S8` bitrate codes. */
export const SLCAN_BITRATES: Readonly<Record<number, string>> = {
  10000: "S0",
  20000: "S1",
  50000: "S2",
  100000: "S3",
  125000: "S4",
  250000: "S5",
  500000: "S6",
  800000: "S7",
  1000000: "S8",
};

/**
 * The init sequence: close the channel (in case it was left open), set the bitrate, open LISTEN-ONLY. `L` opens the
 * controller without ever acknowledging or sending a frame; `O` would join the bus (design promise 5: never).
 * Each command ends with CR.
 */
export function slcanInitCommands(bitrate: number): string[] {
  const code = SLCAN_BITRATES[bitrate];
  if (!code) {
    throw new FleetError("FLEET_CONFIG_INVALID", `can.bitrate: SLCAN has no bitrate code for ${bitrate} bit/s`, {
      details: { field: "can.bitrate", bitrate },
    });
  }
  return ["C\r", `${code}\r`, "L\r"];
}

export function parseSlcanLine(raw: string): CanLineResult {
  const line = raw.trim();
  if (line === "") return IGNORE;
  const kind = line.charCodeAt(0);
  if (line.charCodeAt(0) === 7 || line.endsWith("\x07")) return { kind: "adapterError", code: "BELL" };
  const extended = kind === 84 /* T */ || kind === 82; /* R */
  const standard = kind === 116 /* t */ || kind === 114; /* r */
  if (!extended && !standard) {
    // Command replies and acks carry no frame.
    if (/^[zZVvNF]/.test(line)) return IGNORE;
    return { kind: "invalid", reason: "not an SLCAN frame" };
  }
  const idLen = extended ? 8 : 3;
  const id = hexNumber(line, 1, idLen);
  const dlc = hexNumber(line, 1 + idLen, 1);
  if (id < 0 || dlc < 0) return { kind: "invalid", reason: "bad id or length digit" };
  if (dlc > 8) return { kind: "invalid", reason: "length above 8" };
  if (extended && id > 0x1fffffff) return { kind: "invalid", reason: "extended id above 29 bits" };
  if (standard && id > 0x7ff) return { kind: "invalid", reason: "standard id above 11 bits" };
  const rtr = kind === 82 || kind === 114;
  const dataStart = 2 + idLen;
  const dataChars = rtr ? 0 : dlc * 2;
  const rest = line.length - dataStart - dataChars;
  if (rest !== 0 && rest !== 4) return { kind: "invalid", reason: "length does not match the frame" };
  const data = rtr ? new Uint8Array(0) : hexBytes(line, dataStart, dlc);
  if (!data) return { kind: "invalid", reason: "bad data hex" };
  if (rest === 4 && hexNumber(line, dataStart + dataChars, 4) < 0) return { kind: "invalid", reason: "bad timestamp" };
  return { kind: "frame", frame: { ts: null, id, extended, rtr, data } };
}

/** The SLCAN line an adapter would send for a frame (tests and the simulator). */
export function encodeSlcanLine(
  frame: { id: number; extended: boolean; data: Uint8Array },
  timestampMs?: number,
): string {
  let out = `${frame.extended ? "T" : "t"}${toHex(frame.id, frame.extended ? 8 : 3)}${frame.data.length}`;
  for (const b of frame.data) out += toHex(b, 2);
  if (timestampMs !== undefined) out += toHex(timestampMs % 60_000, 4);
  return out;
}
