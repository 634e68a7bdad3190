import { describe, expect, it } from "vitest";
import { createCanDecoder } from "../can-decoder.ts";
import {
  detectCanFormat,
  elmInitCommands,
  encodeElmLine,
  parseCandumpLine,
  parseElmLine,
  parseSlcanLine,
  slcanInitCommands,
} from "./index.ts";

describe("SLCAN", () => {
  it("opens listen-only: close, bitrate, L (never O)", () => {
    expect(slcanInitCommands(250_000)).toEqual(["C\r", "S5\r", "L\r"]);
    expect(slcanInitCommands(500_000).join("")).not.toContain("O");
    // A bitrate SLCAN cannot set is a configuration error naming the field (issue 14.2), not a RangeError.
    expect(() => slcanInitCommands(300_000)).toThrow(
      expect.objectContaining({ code: "FLEET_CONFIG_INVALID", message: expect.stringContaining("can.bitrate") }),
    );
  });

  it("parses t/T/r/R frames with and without timestamps, and BELL errors", () => {
    expect(parseSlcanLine("T0CF004008F07D84481400F084")).toMatchObject({ kind: "frame", frame: { id: 0x0cf00400 } });
    expect(parseSlcanLine("T0CF004008F07D84481400F0841A2B")).toMatchObject({ kind: "frame" });
    expect(parseSlcanLine("t7E8803410D00000000000")).toMatchObject({ kind: "invalid" });
    expect(parseSlcanLine("t7E880341050000000000")).toMatchObject({
      kind: "frame",
      frame: { id: 0x7e8, extended: false },
    });
    expect(parseSlcanLine("r7DF0")).toMatchObject({ kind: "frame", frame: { rtr: true } });
    expect(parseSlcanLine("\x07")).toEqual({ kind: "adapterError", code: "BELL" });
  });
});

describe("ELM327 monitor mode", () => {
  it("parses 29-bit and 11-bit lines with and without spaces", () => {
    expect(parseElmLine("18 FE F1 00 F7 00 00 04 00 00 00 FF")).toMatchObject({ frame: { id: 0x18fef100 } });
    expect(parseElmLine("18FEF100F700000400")).toMatchObject({
      frame: { id: 0x18fef100, data: Uint8Array.of(0xf7, 0, 0, 4, 0) },
    });
    expect(parseElmLine("7E8 03 41 0D 00")).toMatchObject({ frame: { id: 0x7e8, extended: false } });
  });

  // ELM327 data sheet (v1.4b-2.x, "Using J1939"; ELM329 "JHF0 and JHF1"): with headers on and J1939 header
  // formatting at its default (JHF1) the chip prints the priority as one digit, the PGN as five, then the source
  // address: `6 0FECA 00 00 FF 00 00 00 00 FF FF`. JHF0 or CAF0 print the id as four bytes.
  it("parses the default J1939 header formatting (AT JHF1): priority digit, PGN, source address", () => {
    expect(parseElmLine("6 0FECA 00 00 FF 00 00 00 00 FF FF")).toMatchObject({
      kind: "frame",
      frame: { id: 0x18feca00, extended: true, data: Uint8Array.of(0, 0xff, 0, 0, 0, 0, 0xff, 0xff) },
    });
    // PDU1 (TP.CM to global, from SA 0x17): the PGN's low byte is the destination address.
    expect(parseElmLine("7 0ECFF 17 20 12 00 03 FF CA FE 00")).toMatchObject({ frame: { id: 0x1cecff17 } });
    expect(parseElmLine("3 0F004 00 F0 7D 84 48 14 00 F0 84")).toMatchObject({ frame: { id: 0x0cf00400 } });
    // Spaces off (AT S0): 1 + 5 + 2 header digits; a first digit of 2-7 cannot start a 29-bit id.
    expect(parseElmLine("60FECA0000FF00000000FFFF")).toMatchObject({ frame: { id: 0x18feca00 } });
    // The DLC digit (AT D1) after the header, in both header formats.
    expect(parseElmLine("6 0FEF1 00 8 F7 00 00 04 00 00 00 FF")).toMatchObject({ frame: { id: 0x18fef100 } });
    expect(parseElmLine("18 FE F1 00 8 F7 00 00 04 00 00 00 FF")).toMatchObject({
      frame: { id: 0x18fef100, data: Uint8Array.of(0xf7, 0, 0, 4, 0, 0, 0, 0xff) },
    });
    expect(parseElmLine("18 FE F1 00 3 F7 00 00 04")).toMatchObject({ kind: "invalid" });
  });

  it("pins the header format in the init: headers on, J1939 header formatting off, CAN auto formatting off", () => {
    const init = elmInitCommands("A");
    for (const c of ["AT H1\r", "AT JHF0\r", "AT CAF0\r", "AT D0\r", "AT S1\r"]) expect(init).toContain(c);
    expect(init.at(-1)).toBe("AT MA\r");
  });

  it("counts data lines without a header (AT H0) as header-less, never as invented frames", () => {
    const decoder = createCanDecoder("elm327");
    const lines = ["FF FF 7D 00 00 00 00 00", "F0 7D 84 48 14 00 F0 84", "02 FF 7D 00", "FFFF7D0000000000", "00 FF"];
    for (const line of lines) expect(decoder.feed(line)).toBeUndefined();
    const c = decoder.counters();
    expect(c.frames).toBe(0);
    expect(c.skipped).toBe(lines.length);
    expect(c.skippedByReason).toEqual({ "header-less": lines.length });
  });

  it("counts a frame marked <DATA ERROR or <RX ERROR under its own reason", () => {
    expect(parseElmLine("18 FE F1 00 F7 00 00 04 00 00 00 FF <DATA ERROR")).toEqual({
      kind: "adapterError",
      code: "DATA_ERROR",
    });
    expect(parseElmLine("231 00 <DATA ERROR")).toEqual({ kind: "adapterError", code: "DATA_ERROR" });
    expect(parseElmLine("6 0FEF1 00 F7 00 00 04 00 00 00 FF <RX ERROR")).toEqual({
      kind: "adapterError",
      code: "RX_ERROR",
    });
  });

  it("writes either header format, and reads back what it writes", () => {
    const frame = { id: 0x18feca17, extended: true, data: Uint8Array.of(0, 0xff, 0, 0, 0, 0, 0xff, 0xff) };
    expect(encodeElmLine(frame)).toBe("18 FE CA 17 00 FF 00 00 00 00 FF FF");
    expect(encodeElmLine(frame, { j1939Headers: true })).toBe("6 0FECA 17 00 FF 00 00 00 00 FF FF");
    expect(parseElmLine(encodeElmLine(frame, { j1939Headers: true }))).toMatchObject({ frame: { id: 0x18feca17 } });
  });

  it("survives the chip's status lines", () => {
    for (const line of [">", "OK", "SEARCHING...", "ELM327 v1.5", "AT MA", "STOPPED"]) {
      expect(parseElmLine(line).kind).toBe("ignore");
    }
    for (const line of ["BUFFER FULL", "DATA ERROR", "<DATA ERROR", "CAN ERROR", "?"]) {
      expect(parseElmLine(line).kind).toBe("adapterError");
    }
  });
});

describe("candump", () => {
  it("parses the -L log and the screen format, with or without timestamps", () => {
    expect(parseCandumpLine("(1635188455.020850) can1 18F00E00#821639C4FFFFFFFF")).toMatchObject({
      frame: { ts: 1635188455.02085, id: 0x18f00e00 },
    });
    expect(parseCandumpLine("  can0  18FEF100   [8]  00 11 22 33 44 55 66 77")).toMatchObject({
      frame: { ts: null, id: 0x18fef100 },
    });
    expect(parseCandumpLine("(1.5) can0  7E8   [3]  02 41 0D")).toMatchObject({ frame: { ts: 1.5, id: 0x7e8 } });
    expect(parseCandumpLine("1 (1612543138.000000) vcan0 0CF00400#0041FF20481400F0")).toMatchObject({ kind: "frame" });
  });

  it("auto-detects each format from its first lines", () => {
    expect(detectCanFormat(["(1.0) can0 0CF00400#0041FF20481400F0"])).toBe("candump");
    expect(detectCanFormat(["", "T0CF004008F07D84481400F084"])).toBe("slcan");
    expect(detectCanFormat(["SEARCHING...", "0C F0 04 00 F0 7D 84 48 14 00 F0 84"])).toBe("elm327");
    expect(detectCanFormat(["hello"])).toBeUndefined();
  });
});
