/**
 * A simulated SLCAN (Lawicel CAN232/CANUSB protocol) adapter: answers the commands an agent sends and, once opened
 * listen-only with `L`, forwards the bus as `T...` lines. Replies per the Lawicel manual: CR for OK, BELL (0x07)
 * for an error. It refuses `O` (normal open) and every transmit command with BELL and counts them as violations,
 * because FleetSync promises never to transmit on the vehicle bus (design promise 5): a test can assert zero.
 * Pure: no I/O, so it is unit tested directly; the device layer wires it to a pseudo-terminal.
 */
import type { TimedFrame } from "../j1939/frame.ts";
import { slcanLine } from "../lines/encoders.ts";
import { createLineBuffer } from "./line-buffer.ts";

const OK = "\r";
const ERROR = "\x07";
/** Longest command: `sxxxxxxxx` / `Tiiiiiiiildddddddddddddddd` is 26 characters; anything over 64 is garbage. */
const MAX_COMMAND = 64;

export interface SlcanStatus {
  state: "closed" | "listen";
  /** S0..S8 index, or null before a bitrate was set. */
  bitrate: number | null;
  timestamps: boolean;
  /** Commands answered, by their first letter. */
  commands: Record<string, number>;
  /** `O` requests refused (the agent must open listen-only). */
  activeOpenRefused: number;
  /** t/T/r/R transmit requests refused. */
  transmitRefused: number;
  /** Commands answered with BELL for any reason. */
  errors: number;
}

export interface SlcanAdapter {
  /** Bytes from the agent; returns the reply bytes. */
  input(chunk: string): string;
  /** Bus traffic as SLCAN lines while open listen-only; empty while closed. */
  output(frames: readonly TimedFrame[]): string;
  status(): SlcanStatus;
}

export function createSlcanAdapter(): SlcanAdapter {
  const lines = createLineBuffer(MAX_COMMAND);
  const st: SlcanStatus = {
    state: "closed",
    bitrate: null,
    timestamps: false,
    commands: {},
    activeOpenRefused: 0,
    transmitRefused: 0,
    errors: 0,
  };
  const closed = () => st.state === "closed";
  const err = () => {
    st.errors++;
    return ERROR;
  };

  function command(line: string): string {
    const op = line[0];
    if (op === undefined) return ""; // bare CR: Lawicel uses it to flush the command buffer; no reply
    st.commands[op] = (st.commands[op] ?? 0) + 1;
    const arg = line.slice(1);
    switch (op) {
      case "C":
        // Always OK, like CANable's firmware: agents send C first without knowing the state.
        st.state = "closed";
        return OK;
      case "S":
        if (!closed() || !/^[0-8]$/.test(arg)) return err();
        st.bitrate = Number(arg);
        return OK;
      case "s":
        if (!closed() || !/^[0-9A-Fa-f]{4}$/.test(arg)) return err();
        st.bitrate = -1;
        return OK;
      case "L":
        if (!closed() || st.bitrate === null) return err();
        st.state = "listen";
        return OK;
      case "O":
        st.activeOpenRefused++;
        return err();
      case "t":
      case "T":
      case "r":
      case "R":
        st.transmitRefused++;
        return err();
      case "V":
        return "V1013\r";
      case "v":
        return "v1013\r";
      case "N":
        return "NSIM1\r";
      case "F":
        return closed() ? err() : "F00\r";
      case "Z":
        if (!closed() || !/^[01]$/.test(arg)) return err();
        st.timestamps = arg === "1";
        return OK;
      case "M":
      case "m":
        return closed() && /^[0-9A-Fa-f]{8}$/.test(arg) ? OK : err();
      case "X":
      case "Q":
      case "W":
      case "P":
      case "A":
        return OK;
      default:
        return err();
    }
  }

  return {
    input(chunk) {
      let reply = "";
      for (const line of lines.push(chunk)) reply += line === null ? err() : command(line);
      return reply;
    },
    output(frames) {
      if (st.state !== "listen") return "";
      let out = "";
      for (const f of frames) out += slcanLine(f.frame, st.timestamps ? f.tMs : undefined);
      return out;
    },
    status: () => ({ ...st, commands: { ...st.commands } }),
  };
}
