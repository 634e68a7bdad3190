/**
 * OBD-II replies on 11-bit CAN (ISO 15765-4): ECUs answer on 0x7E8..0x7EF. Payloads are ISO-TP (ISO 15765-2):
 * a single frame `0L ...` (L = length), or a first frame `1L LL ...` followed by consecutive frames `2n ...`
 * (n = 1..15, wrapping to 0). Reassembly is passive and bounded (one buffer per ECU id, at most 4095 bytes,
 * dropped on a sequence gap or after `timeoutMs`). Services decoded (SAE J1979): 01 current data for the PIDs below,
 * 03 stored trouble codes. Everything else (VIN, freeze frames, other PIDs) is counted, not emitted.
 */
import type { EngineSignals, ObdMessage } from "../types.ts";
import type { CanFrame } from "../can/frame.ts";

type PidDecoder = (b: Uint8Array) => EngineSignals;

/** SAE J1979 mode 01 PID formulas (A, B, C, D = data bytes after the PID). */
const PIDS: ReadonlyMap<number, PidDecoder> = new Map<number, PidDecoder>([
  [0x05, (b) => ({ coolantTempC: b[0]! - 40 })],
  [0x0c, (b) => ({ engineSpeedRpm: (b[0]! * 256 + b[1]!) / 4 })],
  [0x0d, (b) => ({ wheelSpeedKmh: b[0]! })],
  [0x1f, (b) => ({ runTimeS: b[0]! * 256 + b[1]! })],
  [0x2f, (b) => ({ fuelLevelPct: (b[0]! * 100) / 255 })],
  [0x5e, (b) => ({ fuelRateLph: (b[0]! * 256 + b[1]!) / 20 })],
  [0xa6, (b) => ({ totalDistanceKm: (b[0]! * 0x1000000 + b[1]! * 0x10000 + b[2]! * 0x100 + b[3]!) / 10 })],
]);
const PID_BYTES: Readonly<Record<number, number>> = { 5: 1, 12: 2, 13: 1, 31: 2, 47: 1, 94: 2, 166: 4 };

/** Two bytes → "P0301" (SAE J2012: 2 bits system letter, 2 bits first digit, then three hex digits). */
export function obdDtc(a: number, b: number): string {
  const letter = "PCBU"[a >> 6]!;
  return `${letter}${(a >> 4) & 0x3}${(a & 0xf).toString(16)}${(b >> 4).toString(16)}${(b & 0xf).toString(16)}`.toUpperCase();
}

export interface ObdCounters {
  replies: number;
  messages: number;
  /** Replies to services or PIDs not decoded here. */
  other: number;
  isotpErrors: number;
}

interface Pending {
  size: number;
  data: Uint8Array;
  filled: number;
  nextSeq: number;
  ts: number | null;
}

export function createObdDecoder(options: { timeoutMs: number } = { timeoutMs: 1000 }) {
  const pending = new Map<number, Pending>();
  const counters: ObdCounters = { replies: 0, messages: 0, other: 0, isotpErrors: 0 };

  function payloadToMessage(id: number, ts: number | null, p: Uint8Array): ObdMessage | undefined {
    counters.replies++;
    const service = p[0]! - 0x40;
    if (service === 0x01 && p.length >= 2) {
      const pid = p[1]!;
      const fn = PIDS.get(pid);
      if (!fn || p.length < 2 + PID_BYTES[pid]!) {
        counters.other++;
        return undefined;
      }
      counters.messages++;
      return { kind: "obd2", ts, id, mode: 0x01, pid, signals: fn(p.subarray(2)) };
    }
    if (service === 0x03) {
      // CAN replies carry a DTC count byte first (ISO 15765-4 §6.3.5), then two bytes per code; 0000 is padding.
      const count = p[1] ?? 0;
      const codes: string[] = [];
      for (let i = 0; i < count && 2 + 2 * i + 1 < p.length; i++) {
        const a = p[2 + 2 * i]!;
        const b = p[3 + 2 * i]!;
        if (a !== 0 || b !== 0) codes.push(obdDtc(a, b));
      }
      counters.messages++;
      return { kind: "obd2", ts, id, mode: 0x03, pid: null, signals: { obdDtcs: codes } };
    }
    counters.other++;
    return undefined;
  }

  function decode(frame: CanFrame, now: number | null = null): ObdMessage | undefined {
    if (frame.extended || frame.rtr || frame.id < 0x7e8 || frame.id > 0x7ef || frame.data.length === 0)
      return undefined;
    const ts = frame.ts ?? now;
    const d = frame.data;
    const type = d[0]! >> 4;
    if (type === 0) {
      const len = d[0]! & 0xf;
      if (len === 0 || len > d.length - 1) {
        counters.isotpErrors++;
        return undefined;
      }
      return payloadToMessage(frame.id, ts, d.subarray(1, 1 + len));
    }
    if (type === 1) {
      const size = ((d[0]! & 0xf) << 8) | (d[1] ?? 0);
      if (size < 8) {
        counters.isotpErrors++;
        return undefined;
      }
      const data = new Uint8Array(size);
      const first = d.subarray(2, 8);
      data.set(first.subarray(0, size));
      pending.set(frame.id, { size, data, filled: first.length, nextSeq: 1, ts });
      return undefined;
    }
    if (type === 2) {
      const p = pending.get(frame.id);
      if (!p) return undefined;
      const late = ts !== null && p.ts !== null && (ts - p.ts) * 1000 > options.timeoutMs;
      if ((d[0]! & 0xf) !== p.nextSeq || late) {
        pending.delete(frame.id);
        counters.isotpErrors++;
        return undefined;
      }
      const chunk = d.subarray(1, 1 + Math.min(7, p.size - p.filled));
      p.data.set(chunk, p.filled);
      p.filled += chunk.length;
      p.nextSeq = (p.nextSeq + 1) & 0xf;
      p.ts = ts ?? p.ts;
      if (p.filled < p.size) return undefined;
      pending.delete(frame.id);
      return payloadToMessage(frame.id, ts, p.data);
    }
    // Flow control (type 3) and anything else: not a reply.
    return undefined;
  }

  return { decode, counters: (): ObdCounters => ({ ...counters }) };
}

export type ObdDecoder = ReturnType<typeof createObdDecoder>;
