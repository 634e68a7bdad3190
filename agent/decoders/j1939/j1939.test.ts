import { describe, expect, it } from "vitest";
import type { CanFrame } from "../can/frame.ts";
import { createJ1939Decoder } from "./decoder.ts";
import { parseJ1939Id } from "./id.ts";

const frame = (id: number, hex: string, ts: number | null = null): CanFrame => ({
  ts,
  id,
  extended: true,
  rtr: false,
  data: Uint8Array.from(Buffer.from(hex, "hex")),
});

// A 3-packet DM1 over BAM, as the truck fixture has it (TP.DT 60 ms apart).
const BAM = [
  frame(0x1cecff00, "20120003FFCAFE00", 0),
  frame(0x1cebff00, "0143FFD403097E90", 0.059),
  frame(0x1cebff00, "020C140261020901", 0.119),
  frame(0x1cebff00, "0361020C03FFFFFF", 0.179),
];

describe("J1939", () => {
  it("splits the 29-bit id: PDU2 broadcast and PDU1 with destination", () => {
    expect(parseJ1939Id(0x0cf00400)).toEqual({ priority: 3, pgn: 0xf004, sa: 0, da: 255 });
    expect(parseJ1939Id(0x18ea000b)).toEqual({ priority: 6, pgn: 0xea00, sa: 0x0b, da: 0 });
  });

  it("turns not-available and error raw values into null", () => {
    const d = createJ1939Decoder();
    // EEC1 with torque 0xFF (n/a) and speed 0xFExx (error).
    expect(d.decode(frame(0x0cf00400, "FFFFFF00FEFFFFFF"))?.signals).toEqual({ torquePct: null, engineSpeedRpm: null });
    expect(d.decode(frame(0x18feee00, "7DFFFFFFFFFFFFFF"))?.signals).toEqual({ coolantTempC: 85 });
  });

  it("reassembles a BAM DM1", () => {
    const d = createJ1939Decoder();
    const out = BAM.map((f) => d.decode(f)).filter(Boolean);
    expect(out).toHaveLength(1);
    expect(out[0]?.name).toBe("DM1");
    expect(out[0]?.signals.dtcs).toEqual([
      { spn: 980, fmi: 9, oc: 126 },
      { spn: 3216, fmi: 20, oc: 2 },
      { spn: 609, fmi: 9, oc: 1 },
      { spn: 609, fmi: 12, oc: 3 },
    ]);
  });

  it("drops a BAM session on a sequence gap and counts it", () => {
    const d = createJ1939Decoder();
    const out = [BAM[0]!, BAM[1]!, BAM[3]!].map((f) => d.decode(f)).filter(Boolean);
    expect(out).toEqual([]);
    expect(d.counters().transport.sequenceErrors).toBe(1);
  });

  it("drops a BAM session idle for more than T1 = 750 ms", () => {
    const d = createJ1939Decoder();
    const late = { ...BAM[3]!, ts: 1.2 };
    const out = [BAM[0]!, BAM[1]!, BAM[2]!, late].map((f) => d.decode(f)).filter(Boolean);
    expect(out).toEqual([]);
    expect(d.counters().transport.timeouts).toBe(1);
  });
});
