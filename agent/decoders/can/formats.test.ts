import { describe, expect, it } from "vitest";
import { detectCanFormat, parseCandumpLine, parseElmLine, parseSlcanLine, slcanInitCommands } from "./index.ts";

describe("SLCAN", () => {
  it("opens listen-only: close, bitrate, L (never O)", () => {
    expect(slcanInitCommands(250_000)).toEqual(["C\r", "S5\r", "L\r"]);
    expect(slcanInitCommands(500_000).join("")).not.toContain("O");
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
