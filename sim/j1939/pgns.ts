/**
 * J1939-71 encoders: one 8-byte payload per parameter group, from a truck state. Scalings and byte positions are
 * J1939-71's (positions cited as byte.bit, 1-based, as the standard writes them). Unused bytes are 0xFF ("not
 * available"), as ECUs send them.
 */
import type { J1939Dtc } from "../../protocol/index.ts";
import type { TruckState } from "../model/state.ts";

export const PGN = {
  EEC1: 61444,
  CCVS1: 65265,
  ET1: 65262,
  DD1: 65276,
  LFE1: 65266,
  HOURS: 65253,
  VDHR: 65217,
  VD: 65248,
  LFC1: 65257,
  EFLP1: 65263,
  AMB: 65269,
  DM1: 65226,
  TP_CM: 60416,
  TP_DT: 60160,
} as const;

function blank(): Uint8Array {
  return new Uint8Array(8).fill(0xff);
}

/** Raw value clamped to the parameter's valid range (J1939-71 §5.1.4: above 0xFAFF the value means "error"). */
function raw(value: number, resolution: number, offset: number, maxRaw: number): number {
  return Math.max(0, Math.min(maxRaw, Math.round((value - offset) / resolution)));
}

function put16(data: Uint8Array, at: number, value: number): void {
  data[at] = value & 0xff;
  data[at + 1] = (value >>> 8) & 0xff;
}

function put32(data: Uint8Array, at: number, value: number): void {
  put16(data, at, value & 0xffff);
  put16(data, at + 2, Math.floor(value / 0x10000) & 0xffff);
}

const MAX8 = 0xfa;
const MAX16 = 0xfaff;
const MAX32 = 0xfaffffff;

/** EEC1: SPN 899 torque mode (1.1), SPN 512 demand torque (2), SPN 513 actual torque (3), SPN 190 speed (4-5). */
export function encodeEec1(s: TruckState): Uint8Array {
  const d = blank();
  d[0] = 0xf0 | (s.engineRunning ? 0x1 : 0x0); // torque mode 1 = accelerator pedal/operator selection
  d[1] = raw(s.throttlePct, 1, -125, MAX8); // driver's demand torque %, 1 %/bit offset -125
  d[2] = raw(s.torquePct, 1, -125, MAX8); // SPN 513: 1 %/bit offset -125
  put16(d, 3, raw(s.engineSpeedRpm, 0.125, 0, MAX16)); // SPN 190: 0.125 rpm/bit
  d[5] = 0x00; // SPN 1483 source address of the controlling device: the engine itself
  return d;
}

/** CCVS1: SPN 70 parking brake (1.3), SPN 84 wheel-based speed (2-3), SPN 597 brake switch (4.5). */
export function encodeCcvs1(s: TruckState): Uint8Array {
  const d = blank();
  // byte 1: two-speed axle (bits 1-2) = 00, parking brake (bits 3-4), cruise pause (bits 5-6) = 11 n/a
  d[0] = 0xf0 | ((s.parkingBrake ? 1 : 0) << 2) | 0x00;
  put16(d, 1, raw(s.speedKmh, 1 / 256, 0, MAX16)); // SPN 84: 1/256 km/h per bit
  // byte 4: cruise active (1-2) = 00, cruise enable (3-4) = 00, brake switch (5-6), clutch switch (7-8) = 00
  d[3] = (s.brakeSwitch ? 1 : 0) << 4;
  return d;
}

/** ET1: SPN 110 coolant temperature (1), 1 °C/bit offset -40. */
export function encodeEt1(s: TruckState): Uint8Array {
  const d = blank();
  d[0] = raw(s.coolantTempC, 1, -40, MAX8);
  return d;
}

/** DD1: SPN 96 fuel level 1 (2), 0.4 %/bit. */
export function encodeDd1(s: TruckState): Uint8Array {
  const d = blank();
  d[1] = raw(s.fuelLevelPct, 0.4, 0, MAX8);
  return d;
}

/** LFE1: SPN 183 fuel rate (1-2) 0.05 l/h per bit; SPN 51 throttle position (7) 0.4 %/bit. */
export function encodeLfe1(s: TruckState): Uint8Array {
  const d = blank();
  put16(d, 0, raw(s.fuelRateLph, 0.05, 0, MAX16));
  d[6] = raw(s.throttlePct, 0.4, 0, MAX8);
  return d;
}

/** HOURS: SPN 247 total engine hours (1-4) 0.05 h/bit; SPN 249 total revolutions (5-8) n/a. */
export function encodeHours(s: TruckState): Uint8Array {
  const d = blank();
  put32(d, 0, raw(s.engineHours, 0.05, 0, MAX32));
  return d;
}

/** VDHR: SPN 917 total distance (1-4) and SPN 918 trip distance (5-8), 5 m/bit. */
export function encodeVdhr(s: TruckState): Uint8Array {
  const d = blank();
  put32(d, 0, raw(s.totalDistanceKm * 1000, 5, 0, MAX32));
  put32(d, 4, raw(s.tripDistanceKm * 1000, 5, 0, MAX32));
  return d;
}

/** VD: SPN 244 trip distance (1-4) and SPN 245 total vehicle distance (5-8), 0.125 km/bit. */
export function encodeVd(s: TruckState): Uint8Array {
  const d = blank();
  put32(d, 0, raw(s.tripDistanceKm, 0.125, 0, MAX32));
  put32(d, 4, raw(s.totalDistanceKm, 0.125, 0, MAX32));
  return d;
}

/** LFC1: SPN 182 trip fuel (1-4) and SPN 250 total fuel used (5-8), 0.5 l/bit. */
export function encodeLfc1(s: TruckState): Uint8Array {
  const d = blank();
  put32(d, 0, raw(s.tripFuelL, 0.5, 0, MAX32));
  put32(d, 4, raw(s.totalFuelL, 0.5, 0, MAX32));
  return d;
}

/** EFL/P1: SPN 100 engine oil pressure (4), 4 kPa/bit. */
export function encodeEflp1(s: TruckState): Uint8Array {
  const d = blank();
  d[3] = raw(s.oilPressureKpa, 4, 0, MAX8);
  return d;
}

/** AMB: SPN 108 barometric pressure (1) 0.5 kPa/bit; SPN 171 ambient air temperature (4-5) 0.03125 °C, -273. */
export function encodeAmb(s: TruckState): Uint8Array {
  const d = blank();
  d[0] = raw(101.3 - s.altM * 0.012, 0.5, 0, MAX8);
  put16(d, 3, raw(s.ambientTempC, 0.03125, -273, MAX16));
  return d;
}

/**
 * DM1 payload (J1939-73 §5.7.1): lamp status (1), flash (2), then 4 bytes per DTC: SPN low 16 bits (3-4),
 * SPN high 3 bits in 5.6-5.8 with FMI in 5.1-5.5, conversion method 6.8 = 0 and occurrence count 6.1-6.7.
 * No active DTC: one all-zero DTC slot. Pads to 8 bytes with 0xFF; more than one DTC needs the transport protocol.
 */
export function encodeDm1(dtcs: readonly J1939Dtc[]): Uint8Array {
  const lamps = dtcs.length > 0 ? 0x04 : 0x00; // amber warning lamp on (bits 3-4 = 01) while a DTC is active
  const slots = dtcs.length > 0 ? dtcs : [{ spn: 0, fmi: 0, oc: 0 }];
  const out = new Uint8Array(Math.max(8, 2 + slots.length * 4)).fill(0xff);
  out[0] = lamps;
  out[1] = 0xff; // flash status: not available
  slots.forEach((dtc, i) => {
    const at = 2 + i * 4;
    out[at] = dtc.spn & 0xff;
    out[at + 1] = (dtc.spn >> 8) & 0xff;
    out[at + 2] = (((dtc.spn >> 16) & 0x7) << 5) | (dtc.fmi & 0x1f);
    out[at + 3] = dtc.oc & 0x7f;
  });
  return out;
}
