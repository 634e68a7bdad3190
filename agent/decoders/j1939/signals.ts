/**
 * The PGNs and SPNs the agent decodes (SAE J1939-71 / J1939-73). Byte positions below are 0-based (the standard
 * counts from 1). Raw values in the "error" or "not available" ranges become null, never a number (J1939-71 §5.1.4:
 * for 1 byte 0xFB..0xFF, 2 bytes above 0xFAFF, 4 bytes above 0xFAFFFFFF, 2-bit states 10 = error, 11 = n/a).
 */
import type { EngineSignals } from "../types.ts";

function u8(d: Uint8Array, i: number): number | null {
  const v = d[i];
  return v === undefined || v > 0xfa ? null : v;
}

function u16(d: Uint8Array, i: number): number | null {
  if (i + 1 >= d.length) return null;
  const v = d[i]! | (d[i + 1]! << 8);
  return v > 0xfaff ? null : v;
}

function u32(d: Uint8Array, i: number): number | null {
  if (i + 3 >= d.length) return null;
  const v = (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16)) + d[i + 3]! * 0x1000000;
  return v > 0xfaffffff ? null : v;
}

/** A 2-bit state at `shift` in byte i: 00 off, 01 on, 10 error, 11 not available. */
function bit2(d: Uint8Array, i: number, shift: number): boolean | null {
  const v = d[i];
  if (v === undefined) return null;
  const s = (v >> shift) & 0x3;
  return s === 0 ? false : s === 1 ? true : null;
}

const scale = (v: number | null, factor: number, offset = 0) => (v === null ? null : v * factor + offset);

export interface PgnDef {
  name: string;
  decode(data: Uint8Array): EngineSignals;
}

export const PGN = {
  EEC1: 0xf004,
  CCVS1: 0xfef1,
  ET1: 0xfeee,
  LFE1: 0xfef2,
  DD1: 0xfefc,
  HOURS: 0xfee5,
  VD: 0xfee0,
  VDHR: 0xfec1,
  LFC1: 0xfee9,
  EFLP1: 0xfeef,
  AMB: 0xfef5,
  DM1: 0xfeca,
  TPCM: 0xec00,
  TPDT: 0xeb00,
} as const;

export const PGN_DEFS: ReadonlyMap<number, PgnDef> = new Map<number, PgnDef>([
  // EEC1: SPN 513 actual engine torque, byte 3, 1 %/bit, -125 % offset; SPN 190 engine speed, bytes 4-5, 0.125 rpm/bit.
  [
    PGN.EEC1,
    { name: "EEC1", decode: (d) => ({ torquePct: scale(u8(d, 2), 1, -125), engineSpeedRpm: scale(u16(d, 3), 0.125) }) },
  ],
  // CCVS1: SPN 70 parking brake, byte 1 bits 3-4; SPN 84 wheel-based speed, bytes 2-3, 1/256 km/h per bit;
  // SPN 597 brake switch, byte 4 bits 5-6.
  [
    PGN.CCVS1,
    {
      name: "CCVS1",
      decode: (d) => ({
        parkingBrake: bit2(d, 0, 2),
        wheelSpeedKmh: scale(u16(d, 1), 1 / 256),
        brakeSwitch: bit2(d, 3, 4),
      }),
    },
  ],
  // ET1: SPN 110 engine coolant temperature, byte 1, 1 °C/bit, -40 °C offset.
  [PGN.ET1, { name: "ET1", decode: (d) => ({ coolantTempC: scale(u8(d, 0), 1, -40) }) }],
  // LFE1: SPN 183 engine fuel rate, bytes 1-2, 0.05 L/h per bit.
  [PGN.LFE1, { name: "LFE1", decode: (d) => ({ fuelRateLph: scale(u16(d, 0), 0.05) }) }],
  // DD1: SPN 96 fuel level 1, byte 2, 0.4 %/bit.
  [PGN.DD1, { name: "DD1", decode: (d) => ({ fuelLevelPct: scale(u8(d, 1), 0.4) }) }],
  // HOURS: SPN 247 engine total hours of operation, bytes 1-4, 0.05 h/bit.
  [PGN.HOURS, { name: "HOURS", decode: (d) => ({ engineHours: scale(u32(d, 0), 0.05) }) }],
  // VD: SPN 245 total vehicle distance, bytes 5-8, 0.125 km/bit.
  [PGN.VD, { name: "VD", decode: (d) => ({ totalDistanceKm: scale(u32(d, 4), 0.125) }) }],
  // VDHR: SPN 917 high resolution total vehicle distance, bytes 1-4, 5 m/bit.
  [PGN.VDHR, { name: "VDHR", decode: (d) => ({ totalDistanceKm: scale(u32(d, 0), 0.005) }) }],
  // LFC1: SPN 250 engine total fuel used, bytes 5-8, 0.5 L/bit.
  [PGN.LFC1, { name: "LFC1", decode: (d) => ({ totalFuelL: scale(u32(d, 4), 0.5) }) }],
  // EFL/P1: SPN 100 engine oil pressure, byte 4, 4 kPa/bit.
  [PGN.EFLP1, { name: "EFL/P1", decode: (d) => ({ oilPressureKpa: scale(u8(d, 3), 4) }) }],
  // AMB: SPN 171 ambient air temperature, bytes 4-5, 0.03125 °C/bit, -273 °C offset.
  [PGN.AMB, { name: "AMB", decode: (d) => ({ ambientTempC: scale(u16(d, 3), 0.03125, -273) }) }],
  [PGN.DM1, { name: "DM1", decode: (d) => ({ dtcs: decodeDm1(d) }) }],
]);

/**
 * DM1 active trouble codes (J1939-73 §5.7.1): bytes 1-2 lamp status, then 4 bytes per DTC: SPN low 16 bits in bytes
 * 1-2, SPN high 3 bits in the top of byte 3, FMI in its low 5 bits, conversion method in the top bit of byte 4 and the
 * occurrence count in its low 7. A single all-zero DTC means "no active DTC"; 0xFF padding is not a DTC.
 */
export function decodeDm1(d: Uint8Array): { spn: number; fmi: number; oc: number }[] {
  const out: { spn: number; fmi: number; oc: number }[] = [];
  for (let i = 2; i + 3 < d.length; i += 4) {
    const b0 = d[i]!;
    const b1 = d[i + 1]!;
    const b2 = d[i + 2]!;
    const b3 = d[i + 3]!;
    if ((b0 | b1 | b2 | b3) === 0) continue;
    if ((b0 & b1 & b2 & b3) === 0xff) continue;
    out.push({ spn: b0 | (b1 << 8) | ((b2 & 0xe0) << 11), fmi: b2 & 0x1f, oc: b3 & 0x7f });
  }
  return out;
}
