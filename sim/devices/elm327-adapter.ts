/**
 * A simulated ELM327 (v1.5 command set) in front of a J1939 bus: answers AT commands the way the ELM327 data sheet
 * describes (echo, `OK`, `?`, a `>` prompt after every reply), and `AT MA` starts monitor output, one line per
 * frame, until any character arrives (which the ELM327 discards, then prints `STOPPED` and a prompt).
 * Requests that would transmit on the bus (OBD-II polls such as `0100`) are answered `NO DATA` and counted, because
 * FleetSync must not poll unless configured to (design promise 5). Pure: no I/O.
 *
 * It prints what the chip prints, defaults included (ELM327 data sheet v1.4b-2.x): headers off after a reset;
 * on a J1939 protocol (A, B, C) with J1939 header formatting (JHF1) and CAN auto formatting (CAF1) both at their
 * default, a 29-bit id prints as `6 0FECA 00` (priority, PGN, SA), and only JHF0 or CAF0 give four id bytes; with
 * CAF1 on an ISO 15765 protocol a frame that is not 8 bytes long is printed with `<DATA ERROR` beside it; a frame
 * received with an error (the sim marks every `rxErrorEvery`-th) is printed with `<RX ERROR`; `AT MA` with the
 * protocol on automatic prints `SEARCHING...` first. A clone can be told to ignore commands (`ignore`): it answers
 * `?` and keeps the default, as cheap clones do with commands newer than v1.0.
 *
 * Identification, as the chips answer it: `AT Z`/`AT WS` print the banner (`ELM327 v1.5`), `AT I` the same string,
 * `AT @1` the device description (data sheet default `OBDII to RS232 Interpreter`), `AT @2` `?` (no identifier
 * stored). A plain ELM327 answers `?` to STN commands (`ST I`); an STN11xx (`chip: "stn"`) calls itself
 * `ELM327 v1.3a` on `AT I` and answers `ST I` with its firmware (`STN1100 v1.2.3`) and `ST DI` with the device
 * (`OBDLink r1.7`), the examples of the STN1100 Family Reference Manual. A lone CR repeats the previous command (AT
 * or OBD), as the data sheet says; that is why FleetSync never sends one. Nothing is printed until asked: a USB
 * adapter's power-on banner is long gone by the time a program opens the port.
 */
import type { TimedFrame } from "../j1939/frame.ts";
import { type ElmFormat, elmMonitorLine } from "../lines/encoders.ts";
import { createLineBuffer } from "./line-buffer.ts";

const BANNER = { elm327: "ELM327 v1.5", stn: "ELM327 v1.3a" } as const;
const DESCRIPTION = "OBDII to RS232 Interpreter";
const STN_FIRMWARE = "STN1100 v1.2.3";
const STN_DEVICE = "OBDLink r1.7";
const MAX_COMMAND = 64;

const PROTOCOLS: Record<string, string> = {
  "0": "AUTO",
  "6": "ISO 15765-4 (CAN 11/500)",
  "7": "ISO 15765-4 (CAN 29/500)",
  "8": "ISO 15765-4 (CAN 11/250)",
  "9": "ISO 15765-4 (CAN 29/250)",
  A: "SAE J1939 (CAN 29/250)",
};

export interface ElmAdapterOptions {
  /** Commands (without `AT`, e.g. "JHF0", "CAF0") this clone does not know: answered `?`, setting unchanged. */
  ignore?: readonly string[];
  /** Every n-th frame is printed as received with an error (`<RX ERROR`); 0 = never. */
  rxErrorEvery?: number;
  /** Which chip: a genuine ELM327 (v1.5), or an STN11xx that also knows the ST command set. */
  chip?: "elm327" | "stn";
}

export interface ElmStatus {
  monitoring: boolean;
  /** AT JHF: J1939 header formatting (default on). */
  jhf: boolean;
  /** AT CAF: CAN auto formatting (default on). */
  caf: boolean;
  framesShown: number;
  echo: boolean;
  linefeeds: boolean;
  format: ElmFormat;
  protocol: string;
  /** Commands received (AT and others). */
  commands: number;
  /** Non-AT requests that a real ELM327 would have sent on the bus. */
  transmitRefused: number;
  unknown: number;
  /** Lone CRs that repeated the previous command. */
  repeats: number;
}

export interface Elm327Adapter {
  input(chunk: string): string;
  output(frames: readonly TimedFrame[]): string;
  status(): ElmStatus;
}

export function createElm327Adapter(options: ElmAdapterOptions = {}): Elm327Adapter {
  const ignore = new Set(options.ignore ?? []);
  const rxErrorEvery = options.rxErrorEvery ?? 0;
  const chip = options.chip ?? "elm327";
  const VERSION = BANNER[chip];
  let last = "";
  const lines = createLineBuffer(MAX_COMMAND);
  let st: ElmStatus;
  const reset = () => {
    st = {
      monitoring: false,
      jhf: true,
      caf: true,
      framesShown: st?.framesShown ?? 0,
      echo: true,
      linefeeds: false,
      format: { headers: false, spaces: true, dlc: false },
      protocol: "0",
      commands: st?.commands ?? 0,
      transmitRefused: st?.transmitRefused ?? 0,
      unknown: st?.unknown ?? 0,
      repeats: st?.repeats ?? 0,
    };
  };
  reset();
  const eol = () => (st.linefeeds ? "\r\n" : "\r");
  const reply = (...body: string[]) => `${body.map((l) => l + eol()).join("")}${eol()}>`;

  function at(cmd: string): string {
    const flag = (name: string, set: (on: boolean) => void): string | undefined => {
      if (cmd !== `${name}0` && cmd !== `${name}1`) return undefined;
      set(cmd.endsWith("1"));
      return reply("OK");
    };
    if (ignore.has(cmd)) {
      st.unknown++;
      return reply("?");
    }
    if (cmd === "Z" || cmd === "WS") {
      reset();
      return `${eol()}${eol()}${VERSION}${eol()}${eol()}>`;
    }
    if (cmd === "D") {
      reset();
      return reply("OK");
    }
    const toggled =
      flag("E", (on) => {
        st.echo = on;
      }) ??
      flag("L", (on) => {
        st.linefeeds = on;
      }) ??
      flag("S", (on) => {
        st.format.spaces = on;
      }) ??
      flag("H", (on) => {
        st.format.headers = on;
      }) ??
      flag("D", (on) => {
        st.format.dlc = on;
      }) ??
      flag("JHF", (on) => {
        st.jhf = on;
      }) ??
      flag("CAF", (on) => {
        st.caf = on;
      });
    if (toggled) return toggled;
    if (cmd === "I") return reply(VERSION);
    if (cmd === "@1") return reply(DESCRIPTION);
    if (cmd === "RV") return reply("24.1V");
    if (cmd === "DP") return reply(PROTOCOLS[st.protocol] ?? "AUTO");
    if (cmd === "DPN") return reply(st.protocol);
    const sp = /^(?:SP|TP)A?([0-9A-C])$/.exec(cmd);
    if (sp) {
      st.protocol = sp[1]!;
      return reply("OK");
    }
    if (cmd === "MA" || /^M[RT][0-9A-F]{2}$/.test(cmd)) {
      st.monitoring = true;
      return st.protocol === "0" ? `SEARCHING...${eol()}` : "";
    }
    if (/^(CFC[01]|CSM[01]|AL|NL|ST[0-9A-F]{2}|AT[0-2]|M[01]|R[01]|JE|JS|PB[0-9A-F]{4})$/.test(cmd)) {
      return reply("OK");
    }
    if (/^(CRA[0-9A-FX]*|CF[0-9A-F]+|CM[0-9A-F]+|SH[0-9A-F]+|PP(FF|[0-9A-F]{2})(ON|OFF|SV[0-9A-F]{2}))$/.test(cmd)) {
      return reply("OK");
    }
    st.unknown++;
    return reply("?");
  }

  function command(raw: string): string {
    let cmd = raw.replace(/\s+/g, "").toUpperCase();
    const echo = st.echo ? `${raw}\r` : "";
    if (cmd === "") {
      // A lone CR repeats the previous command, AT or OBD (ELM327 data sheet): after an OBD request it would send
      // that request on the bus again.
      if (last === "") return echo + reply();
      st.repeats++;
      cmd = last;
    }
    last = cmd;
    st.commands++;
    if (chip === "stn" && cmd === "STI") return echo + reply(STN_FIRMWARE);
    if (chip === "stn" && cmd === "STDI") return echo + reply(STN_DEVICE);
    if (cmd.startsWith("AT")) return echo + at(cmd.slice(2));
    if (/^[0-9A-F]+$/.test(cmd)) {
      st.transmitRefused++;
      return echo + reply("NO DATA");
    }
    st.unknown++;
    return echo + reply("?");
  }

  return {
    input(chunk) {
      let text = chunk;
      let out = "";
      if (st.monitoring && text.length > 0) {
        // Any character stops monitoring; that character is discarded (ELM327 data sheet, "AT MA").
        st.monitoring = false;
        text = text.slice(1);
        out += `STOPPED${eol()}${eol()}>`;
      }
      for (const line of lines.push(text)) out += line === null ? reply("?") : command(line);
      return out;
    },
    output(frames) {
      if (!st.monitoring) return "";
      const j1939 = st.protocol === "A" || st.protocol === "B" || st.protocol === "C";
      const format = { ...st.format, j1939Headers: j1939 && st.jhf && st.caf };
      let out = "";
      for (const f of frames) {
        st.framesShown++;
        let line = elmMonitorLine(f.frame, format);
        if (rxErrorEvery > 0 && st.framesShown % rxErrorEvery === 0) line += " <RX ERROR";
        else if (st.caf && !j1939 && st.protocol !== "0" && f.frame.data.length !== 8) line += " <DATA ERROR";
        out += line + eol();
      }
      return out;
    },
    status: () => ({ ...st, format: { ...st.format } }),
  };
}
