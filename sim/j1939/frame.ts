/** A classic CAN frame as the line encoders need it. */
export interface CanFrame {
  /** 11-bit or 29-bit identifier. */
  id: number;
  extended: boolean;
  /** 0..8 bytes. */
  data: Uint8Array;
}

/** A frame with the simulation time it goes on the bus. */
export interface TimedFrame {
  tMs: number;
  frame: CanFrame;
}

/** Broadcast destination (J1939-21 global address). */
export const GLOBAL_ADDRESS = 0xff;

/**
 * The 29-bit identifier of J1939-21: priority (3 bits), EDP/DP + PF + PS (the PGN), source address. For PDU1
 * (PF < 240) the PS byte is the destination address, not part of the PGN; for PDU2 it is the group extension.
 */
export function j1939Id(priority: number, pgn: number, sa: number, da = GLOBAL_ADDRESS): number {
  const pf = (pgn >> 8) & 0xff;
  const ps = pf < 240 ? da : pgn & 0xff;
  const dpPf = (pgn >> 8) & 0x3ff;
  return ((priority & 0x7) << 26) | (dpPf << 16) | (ps << 8) | (sa & 0xff);
}

export function j1939Frame(priority: number, pgn: number, sa: number, data: Uint8Array, da?: number): CanFrame {
  return { id: j1939Id(priority, pgn, sa, da), extended: true, data };
}
