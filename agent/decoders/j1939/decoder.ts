/**
 * CAN frame → J1939Message: the 29-bit id gives PGN, priority and source address; transport sessions are reassembled
 * first, so a DM1 of many trouble codes arrives as one message. PGNs without decoded signals are counted, not emitted.
 */
import type { J1939Message } from "../types.ts";
import type { CanFrame } from "../can/frame.ts";
import { parseJ1939Id } from "./id.ts";
import { PGN, PGN_DEFS } from "./signals.ts";
import { createTransportReassembler, TRANSPORT_DEFAULTS, type TransportOptions } from "./transport.ts";

export interface J1939Counters {
  frames: number;
  messages: number;
  /** PGNs this decoder has no signals for (proprietary, requests, address claims...). */
  otherPgn: number;
}

export function createJ1939Decoder(options: TransportOptions = TRANSPORT_DEFAULTS) {
  const transport = createTransportReassembler(options);
  const counters: J1939Counters = { frames: 0, messages: 0, otherPgn: 0 };

  function message(id: number, pgn: number, sa: number, priority: number, ts: number | null, data: Uint8Array) {
    const def = PGN_DEFS.get(pgn);
    if (!def) {
      counters.otherPgn++;
      return undefined;
    }
    counters.messages++;
    const out: J1939Message = { kind: "j1939", ts, id, pgn, sa, priority, name: def.name, signals: def.decode(data) };
    return out;
  }

  /** `now` (seconds) stands in for the frame's time when the line format has none (SLCAN, ELM327). */
  function decode(frame: CanFrame, now: number | null = null): J1939Message | undefined {
    if (!frame.extended || frame.rtr) return undefined;
    counters.frames++;
    const ts = frame.ts ?? now;
    const { pgn, sa, da, priority } = parseJ1939Id(frame.id);
    if (pgn === PGN.TPCM) {
      transport.connectionManagement(sa, da, frame.data, ts);
      return undefined;
    }
    if (pgn === PGN.TPDT) {
      const whole = transport.dataTransfer(sa, da, frame.data, ts);
      // The reassembled message keeps the TP.DT frame's id (it has no CAN id of its own).
      return whole ? message(frame.id, whole.pgn, sa, priority, ts, whole.data) : undefined;
    }
    return message(frame.id, pgn, sa, priority, ts, frame.data);
  }

  return {
    decode,
    expire: transport.expire,
    counters: () => ({ ...counters, transport: transport.counters() }),
  };
}

export type J1939Decoder = ReturnType<typeof createJ1939Decoder>;
