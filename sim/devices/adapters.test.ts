import { elmInitCommands } from "../../agent/decoders/can/index.ts";
import { describe, expect, it } from "vitest";
import { j1939Frame } from "../j1939/frame.ts";
import { PGN } from "../j1939/pgns.ts";
import { createElm327Adapter } from "./elm327-adapter.ts";
import { createSlcanAdapter } from "./slcan-adapter.ts";

const frames = [
  { tMs: 61_234, frame: j1939Frame(3, PGN.EEC1, 0, new Uint8Array([0xf1, 0x7d, 0x81, 0xc0, 0x12, 0, 0xff, 0xff])) },
];

describe("simulated SLCAN adapter", () => {
  it("answers the listen-only init with CR and then streams frames", () => {
    const a = createSlcanAdapter();
    expect(a.output(frames)).toBe("");
    expect(a.input("C\rS5\rL\r")).toBe("\r\r\r");
    expect(a.output(frames)).toBe("T0CF004008F17D81C01200FFFF\r");
    expect(a.status()).toMatchObject({ state: "listen", bitrate: 5, activeOpenRefused: 0, transmitRefused: 0 });
  });

  it("refuses O (normal open) and every transmit with BELL, counts them and never streams", () => {
    const a = createSlcanAdapter();
    expect(a.input("C\rS6\rO\r")).toBe("\r\r\x07");
    expect(a.output(frames)).toBe("");
    expect(a.input("L\rT0CF004008112233445566778\rt1230\r")).toBe("\r\x07\x07");
    expect(a.status()).toMatchObject({ activeOpenRefused: 1, transmitRefused: 2 });
  });

  it("answers version, serial and status commands, and adds timestamps after Z1", () => {
    const a = createSlcanAdapter();
    expect(a.input("V\rN\r")).toBe("V1013\rNSIM1\r");
    expect(a.input("F\r")).toBe("\x07"); // status flags only while open
    expect(a.input("S6\rZ1\rL\rF\r")).toBe("\r\r\rF00\r");
    expect(a.output(frames)).toBe("T0CF004008F17D81C01200FFFF04D2\r"); // 61234 ms -> 1234 within the minute
  });

  it("refuses a bitrate change while open, L without a bitrate, and overlong or unknown commands", () => {
    const a = createSlcanAdapter();
    expect(a.input("L\r")).toBe("\x07");
    expect(a.input("S6\rL\rS4\r")).toBe("\r\r\x07");
    expect(a.input(`${"x".repeat(100)}\rJ\r`)).toBe("\x07\x07");
    expect(a.input("C\r")).toBe("\r");
    expect(a.output(frames)).toBe("");
  });

  it("assembles commands split across chunks", () => {
    const a = createSlcanAdapter();
    expect(a.input("S")).toBe("");
    expect(a.input("6\rL")).toBe("\r");
    expect(a.input("\r")).toBe("\r");
  });
});

describe("simulated ELM327", () => {
  const init = ["AT Z\r", "AT E0\r", "AT L0\r", "AT H1\r", "AT S1\r", "AT CSM1\r", "AT SP A\r"];

  it("answers an init like an ELM327 v1.5 and monitors after AT MA, J1939 header formatting on by default", () => {
    const a = createElm327Adapter();
    const replies = init.map((c) => a.input(c));
    expect(replies[0]).toBe("AT Z\r\r\rELM327 v1.5\r\r>");
    expect(replies[1]).toBe("AT E0\rOK\r\r>"); // the ELM327 echoes E0 itself: echo is still on while it arrives
    for (const r of replies.slice(2)) expect(r).toBe("OK\r\r>");
    expect(a.input("AT DP\r")).toBe("SAE J1939 (CAN 29/250)\r\r>");
    expect(a.output(frames)).toBe("");
    expect(a.input("AT MA\r")).toBe("");
    // Data sheet, "Using J1939": priority digit, PGN, source address (JHF1 is the default).
    expect(a.output(frames)).toBe("3 0F004 00 F1 7D 81 C0 12 00 FF FF\r");
  });

  it("prints the id as four bytes after the agent's init (JHF0, CAF0), and JHF1 from a clone that ignores them", () => {
    const a = createElm327Adapter();
    for (const c of elmInitCommands("A")) a.input(c);
    expect(a.output(frames)).toBe("0C F0 04 00 F1 7D 81 C0 12 00 FF FF\r");
    const clone = createElm327Adapter({ ignore: ["JHF0", "CAF0"] });
    const replies = elmInitCommands("A").map((c) => clone.input(c));
    expect(replies.filter((r) => r.startsWith("?"))).toHaveLength(2);
    expect(clone.output(frames)).toBe("3 0F004 00 F1 7D 81 C0 12 00 FF FF\r");
  });

  it("marks frames received with an error <RX ERROR, and prints SEARCHING... on an automatic protocol", () => {
    const a = createElm327Adapter({ rxErrorEvery: 2 });
    a.input("ATE0\rATH1\rATJHF0\rATSPA\rATMA\r");
    expect(a.output([...frames, ...frames])).toBe(
      "0C F0 04 00 F1 7D 81 C0 12 00 FF FF\r0C F0 04 00 F1 7D 81 C0 12 00 FF FF <RX ERROR\r",
    );
    const auto = createElm327Adapter();
    auto.input("ATE0\r");
    expect(auto.input("ATMA\r")).toBe("SEARCHING...\r");
  });

  it("stops monitoring on any character, discarding it, then prompts", () => {
    const a = createElm327Adapter();
    a.input("ATE0\rATH1\rATMA\r");
    expect(a.input("x")).toBe("STOPPED\r\r>");
    expect(a.output(frames)).toBe("");
    expect(a.input("ATI\r")).toBe("ELM327 v1.5\r\r>");
  });

  it("formats without spaces, with DLC and with linefeeds when asked", () => {
    const a = createElm327Adapter();
    a.input("ATE0\rATH1\rATS0\rATD1\rATL1\rATMA\r");
    expect(a.output(frames)).toBe("0CF00400" + "8" + "F17D81C01200FFFF\r\n");
  });

  it("answers ? to unknown commands and NO DATA to bus requests, counting the latter", () => {
    const a = createElm327Adapter();
    a.input("ATE0\r");
    expect(a.input("ATXYZ\r")).toBe("?\r\r>");
    expect(a.input("0100\r")).toBe("NO DATA\r\r>");
    expect(a.status()).toMatchObject({ transmitRefused: 1, unknown: 1 });
  });

  it("identifies itself as the data sheet says: banner, AT I, AT @1, AT @2 unset, ? to ST commands", () => {
    const a = createElm327Adapter();
    expect(a.input("AT I\r")).toBe("AT I\rELM327 v1.5\r\r>");
    a.input("ATE0\r");
    expect(a.input("AT @1\r")).toBe("OBDII to RS232 Interpreter\r\r>");
    expect(a.input("AT @2\r")).toBe("?\r\r>");
    expect(a.input("ST I\r")).toBe("?\r\r>");
    expect(a.input("V\r")).toBe("?\r\r>"); // SLCAN's version question: not hex, so never an OBD request
    expect(a.status()).toMatchObject({ transmitRefused: 0 });
  });

  it("as an STN chip, calls itself ELM327 v1.3a and answers ST I and ST DI", () => {
    const a = createElm327Adapter({ chip: "stn" });
    a.input("ATE0\r");
    expect(a.input("ATI\r")).toBe("ELM327 v1.3a\r\r>");
    expect(a.input("STI\r")).toBe("STN1100 v1.2.3\r\r>");
    expect(a.input("ST DI\r")).toBe("OBDLink r1.7\r\r>");
  });

  it("repeats the previous command on a lone CR, an OBD request included (why doctor never sends one)", () => {
    const a = createElm327Adapter();
    expect(a.input("\r")).toBe("\r\r>"); // nothing to repeat yet (echo on: the CR comes back)
    a.input("ATE0\r");
    expect(a.input("\r")).toBe("OK\r\r>"); // AT E0 again
    a.input("0100\r");
    expect(a.input("\r")).toBe("NO DATA\r\r>");
    expect(a.status()).toMatchObject({ transmitRefused: 2, repeats: 2 });
  });
});
